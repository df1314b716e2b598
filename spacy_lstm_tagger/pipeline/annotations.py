"""Scores -> annotations: the last step of the data path. Each head's best
label is written into its Token attribute, a whole batch at once with
`Doc.from_array`, and the tag's calibrated probability into `token._.tag_prob`
(and the top tags into `token._.tag_top_k`). The morph heads' labels make each
token's FEATS string (`token.morph`), and their calibrated probabilities its
`token._.morph_prob`; the lemma head's rules, with the lookup,
its lemma (`token.lemma_`, lemma_rules.py).
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy
from spacy.attrs import LEMMA, MORPH, ORTH, POS, TAG
from spacy.parts_of_speech import IDS as UPOS_IDS
from spacy.strings import StringStore
from spacy.tokens import Doc
from spacy.vocab import Vocab

from .calibration import log_probs_of, scale, tempered_best
from .confidence import set_confidences
from .layout import OutputLayout, family
from .lemma_rules import Lemmatizer
from .morphology import predicted_feats
from .token_scores import EncodedTokens, ProbabilityTable

TokenScores = Union[ProbabilityTable, EncodedTokens]

ATTR_IDS = {"tag": TAG, "pos": POS, "morph": MORPH, "lemma": LEMMA}


def label_values(layout: OutputLayout, name: str, strings: StringStore) -> numpy.ndarray:
    """The value that Doc.from_array takes for each label of head `name`."""
    labels = layout[name].labels
    if name == "pos":
        return numpy.array([UPOS_IDS[label] for label in labels], dtype="uint64")
    return numpy.array([strings.add(label) for label in labels], dtype="uint64")


def write_annotations(
    docs: Sequence[Doc],
    scores: TokenScores,
    layout: OutputLayout,
    vocab: Vocab,
    *,
    heads: Sequence[str],
    overwrite: bool,
    pos_from_tag: bool = False,
    tag_temperature: float,
    top_k: int,
    morph_temperature: float = 1.0,
    lemmatizer: Optional[Lemmatizer] = None,
) -> None:
    """Write each head's most likely label for every token of `docs`.

    scores (TokenScores): each head's probabilities for the Docs' tokens, Doc
        after Doc; only the heads written (and the tag) are read, and the lemma
        head only for the tokens that the lemma lookup does not decide.
    heads (Sequence[str]): the attributes written ("tag", "pos", "morph",
        "lemma"); the others are never touched.
    lemmatizer (Lemmatizer): the lemma head's rules and lookup, with "lemma".
    pos_from_tag (bool): also write each tag, a UPOS label, into `token.pos_`.
    overwrite (bool): replace labels a Doc already has; otherwise a token keeps
        a label it has (its tag_prob is still the model's own prediction's).
    tag_temperature (float): divides the tag scores behind tag_prob (calibration).
    morph_temperature (float): divides the morph heads' scores behind morph_prob.
    top_k (int): tags kept per token in `token._.tag_top_k`; 0 for none.
    """
    # The best label of the heads that are written, and of the tag (tag_prob
    # and the lemma lookup need it).
    best = {
        head.name: scores.probs(head.name).argmax(axis=1)
        for head in layout if head.name == "tag" or (family(head.name) in heads and head.name != "lemma")
    }
    columns: Dict[str, numpy.ndarray] = {}
    for name in ("tag", "pos"):
        if name in heads and name in layout:
            columns[name] = label_values(layout, name, vocab.strings)[best[name]]
    if pos_from_tag:
        upos = numpy.array([UPOS_IDS[tag] for tag in layout["tag"].labels], dtype="uint64")
        columns["pos"] = upos[best["tag"]]
    morph_probs = None
    if "morph" in heads and layout.of("morph"):
        columns["morph"] = morph_values(layout, best, vocab)
        morph_probs = feats_probs(scores, layout, best, morph_temperature)
    if "lemma" in heads and "lemma" in layout:
        columns["lemma"] = lemma_values(docs, scores, layout, best, vocab.strings, lemmatizer)
    tags = layout["tag"]
    # Calibrated probabilities (calibration.py), once for the batch; the
    # predicted tag stays the most likely one.
    tag_log_probs = scale(log_probs_of(scores.probs("tag")), tag_temperature)
    set_confidences(docs, tag_log_probs, best["tag"], tags.labels, top_k, morph_probs)
    if columns:
        values = numpy.stack(list(columns.values()), axis=1)
        write_columns(docs, [ATTR_IDS[name] for name in columns], values, overwrite)


def write_columns(docs: Sequence[Doc], attrs: List[int], values: numpy.ndarray, overwrite: bool) -> None:
    """Doc.from_array of each Doc's rows of `values`; without `overwrite`, a
    token keeps the values it has."""
    end = 0
    for doc in docs:
        start, end = end, end + len(doc)
        if start == end:
            continue
        doc_values = values[start:end]
        # Most Docs have no tags yet, and has_annotation is cheaper than to_array.
        if not overwrite and any(doc.has_annotation(attr) for attr in attrs):
            existing = doc.to_array(attrs).reshape(doc_values.shape)
            doc_values = numpy.where(existing != 0, existing, doc_values)
        doc.from_array(attrs, doc_values)


def morph_values(layout: OutputLayout, best: Dict[str, numpy.ndarray], vocab: Vocab) -> numpy.ndarray:
    """The MORPH hash of each token's predicted FEATS string: one per distinct
    combination of the morph heads' best labels."""
    heads = layout.of("morph")
    combos, rows = numpy.unique(numpy.stack([best[h.name] for h in heads], axis=1), axis=0, return_inverse=True)
    labels = {h.name: [h.labels[i] for i in combos[:, k]] for k, h in enumerate(heads)}
    hashes = [vocab.morphology.add(feats) for feats in predicted_feats(labels, len(combos))]
    return numpy.array(hashes, dtype="uint64")[rows.reshape(-1)]


def feats_probs(
    scores: TokenScores, layout: OutputLayout, best: Dict[str, numpy.ndarray], temperature: float
) -> numpy.ndarray:
    """Each token's probability of its predicted FEATS string: the morph
    head's probability of its best label, or with one head per feature the
    product of theirs (the heads predict independently); every head's scores
    divided by `temperature`."""
    probs = numpy.ones(len(best["tag"]), dtype="float64")
    for head in layout.of("morph"):
        probs *= tempered_best(scores.probs(head.name), best[head.name], temperature)
    return probs


def lemma_values(
    docs: Sequence[Doc],
    scores: TokenScores,
    layout: OutputLayout,
    best: Dict[str, numpy.ndarray],
    strings: StringStore,
    lemmatizer: Lemmatizer,
) -> numpy.ndarray:
    """The LEMMA hash of each token's lemma: the lookup's for its form and
    predicted tag, or the most likely rule's that applies, or the form."""
    orths = numpy.concatenate([doc.to_array(ORTH) for doc in docs]) if docs else numpy.zeros(0, "uint64")
    tag_labels = layout["tag"].labels
    tags = [tag_labels[i] for i in best["tag"].tolist()]
    ids = lemmatizer.lemma_ids(orths.tolist(), tags, lambda rows: scores.rows("lemma", rows), strings)
    return numpy.array(ids, dtype="uint64")
