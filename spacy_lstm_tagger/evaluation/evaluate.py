"""Where a tagger fails: the figures of `python -m spacy_lstm_tagger evaluate`.

Gold Docs -> the pipeline's tags on the gold tokens -> one row per token ->
counts: accuracy overall, on words seen and not seen in training and by
frequency band, per tag, confusions, the calibration of `token._.tag_prob`, the
most frequent errors, features and lemmas (morph_lemma.py) and, if asked, a
second pipeline side by side. The result is a plain dict of numbers and
strings, which the text summary, the JSON and the HTML report (report.py) all
read.
"""
import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import numpy
from spacy.language import Language
from spacy.tokens import Doc

from ..pipeline.calibration import kept_curve, reliability
from ..pipeline.component import find_lstm_tagger
from ..pipeline.confidence import MORPH_PROB
from ..pipeline.featurize import word_key
from .morph_lemma import EMPTY, lemma_figures, morph_figures, not_evaluated

# Word-frequency bands: occurrences from .. to (inclusive; None: no upper bound).
FREQUENCY_BANDS = [(0, 0), (1, 1), (2, 9), (10, 99), (100, None)]
KEPT_SHARES = [round(0.01 * i, 2) for i in range(100, 0, -1)]
N_CONFUSED_TAGS = 12
N_ERRORS = 25
CONTEXT_TOKENS = 8  # either side of an error
UNKNOWN_TAG_SHARE = 0.5  # of gold tokens whose tag the model lacks, beyond which evaluate warns


@dataclass
class Predictions:
    """One entry per gold token, in corpus order."""

    words: List[str]
    sentence: numpy.ndarray  # index of the token's gold Doc
    gold_tag: numpy.ndarray  # str; "" where the gold has none
    gold_pos: numpy.ndarray
    tag: numpy.ndarray  # the pipeline's
    pos: numpy.ndarray
    prob: numpy.ndarray  # token._.tag_prob; nan where not set
    gold_morph: numpy.ndarray  # FEATS string, "_" for none; "" where not annotated
    morph: numpy.ndarray
    gold_lemma: numpy.ndarray  # "" where none
    lemma: numpy.ndarray
    morph_prob: numpy.ndarray  # token._.morph_prob; nan where not set


TEMPERATURES = ("tag_temperature", "morph_temperature")


@contextlib.contextmanager
def raw_confidences(nlp: Language) -> Iterator[None]:
    """Within: the tagger's probabilities without its temperatures."""
    tagger = find_lstm_tagger(nlp)
    temperatures = {key: tagger.cfg[key] for key in TEMPERATURES}
    tagger.cfg.update({key: 1.0 for key in TEMPERATURES})
    try:
        yield
    finally:
        tagger.cfg.update(temperatures)


def predict(
    nlp: Language, gold_docs: Sequence[Doc], batch_size: int = 128, tags_are_upos: bool = False
) -> Predictions:
    """Run the pipeline on the gold tokens (its own tokenizer is not used).
    tags_are_upos: the tagger's tags are UPOS labels (`pos_from_tag`, a
    treebank without XPOS), so the gold tags are the gold UPOS."""
    fresh = (
        Doc(nlp.vocab, words=[t.text for t in gold], spaces=[bool(t.whitespace_) for t in gold])
        for gold in gold_docs
    )
    tokens = [
        (i, gold_token, token)
        for i, (gold, doc) in enumerate(zip(gold_docs, nlp.pipe(fresh, batch_size=batch_size)))
        for gold_token, token in zip(gold, doc)
    ]
    return Predictions(
        words=[gold.text for _, gold, _ in tokens],
        sentence=numpy.array([i for i, _, _ in tokens], dtype="int64"),
        gold_tag=numpy.array([gold.pos_ if tags_are_upos else gold.tag_ for _, gold, _ in tokens], dtype=object),
        gold_pos=numpy.array([gold.pos_ for _, gold, _ in tokens], dtype=object),
        tag=numpy.array([token.tag_ for _, _, token in tokens], dtype=object),
        pos=numpy.array([token.pos_ for _, _, token in tokens], dtype=object),
        prob=numpy.array(
            # The lstm_tagger registered the extension; another pipeline leaves it None.
            [numpy.nan if token._.tag_prob is None else token._.tag_prob for _, _, token in tokens],
            dtype="float64",
        ),
        gold_morph=numpy.array([feats_of(gold) for _, gold, _ in tokens], dtype=object),
        morph=numpy.array([feats_of(token) for _, _, token in tokens], dtype=object),
        gold_lemma=numpy.array([gold.lemma_ for _, gold, _ in tokens], dtype=object),
        lemma=numpy.array([token.lemma_ for _, _, token in tokens], dtype=object),
        # A float64 array reads None (no morph_prob) as NaN.
        morph_prob=numpy.array([token._.get(MORPH_PROB) for _, _, token in tokens], dtype="float64"),
    )


def feats_of(token) -> str:
    """The token's FEATS string: "_" for no features, "" if it has no FEATS."""
    return (str(token.morph) or EMPTY) if token.has_morph() else ""


def evaluate(
    nlp: Language,
    gold_docs: Sequence[Doc],
    *,
    other: Optional[Language] = None,
    training_counts: Optional[Counter] = None,
) -> Dict:
    """All the report's figures for the lstm_tagger pipeline `nlp` on `gold_docs`.

    other (Language): a second pipeline that sets tag_ (and pos_), to compare.
    training_counts (Counter): occurrences of each word (`word_key`) in the
        training corpus, for the frequency bands; without it the bands count the
        words of the gold corpus itself.
    RETURNS (dict): plain numbers, strings, lists and dicts (JSON as it is).
    """
    tagger = find_lstm_tagger(nlp)
    tags_are_upos = tagger.pos_from_tag
    ours = predict(nlp, gold_docs, tags_are_upos=tags_are_upos)
    known = tagger.model.tables.word_index
    seen = numpy.array([word_key(w) in known for w in ours.words], dtype=bool)
    if training_counts is not None:
        counts, count_source = training_counts, "training corpus"
    else:
        counts, count_source = Counter(word_key(w) for w in ours.words), "evaluated corpus"
    has_tag = ours.gold_tag != ""
    if not has_tag.any():
        column = "UPOS" if tags_are_upos else "XPOS"
        raise ValueError(f"the gold corpus has no tagged tokens ({len(gold_docs)} sentences, no {column} tags)")
    right = ours.tag == ours.gold_tag
    report = {
        "tokens": int(has_tag.sum()),
        "sentences": len(gold_docs),
        "accuracy": accuracies(ours),
        "seen": {
            group: share_right(right[has_tag & mask])
            for group, mask in (("seen", seen), ("unseen", ~seen))
        },
        "frequency_source": count_source,
        "frequency_bands": frequency_bands(ours, right, counts),
        "per_tag": per_tag(ours.gold_tag[has_tag], ours.tag[has_tag]),
        "confusion": confusion(ours.gold_tag[has_tag], ours.tag[has_tag]),
        "calibration": calibration(ours.prob[has_tag], right[has_tag]),
        "errors": frequent_errors(ours, gold_docs),
        "compare": None,
        "warnings": unknown_tag_warnings(ours.gold_tag[has_tag], tagger.labels),
        **morph_and_lemma(ours, seen, tagger.heads),
    }
    temperature = tagger.cfg["tag_temperature"]
    report["calibration"]["temperature"] = temperature
    morph = report["morph"]
    if morph is not None:
        morph["calibration"] = {**morph_calibration(ours), "temperature": tagger.cfg["morph_temperature"]}
    tempered_morph = morph is not None and tagger.cfg["morph_temperature"] != 1.0
    if temperature != 1.0 or tempered_morph:
        with raw_confidences(nlp):
            raw = predict(nlp, gold_docs, tags_are_upos=tags_are_upos)
        if temperature != 1.0:
            report["calibration"]["before"] = calibration(raw.prob[has_tag], right[has_tag])
        if tempered_morph:
            morph["calibration"]["before"] = morph_calibration(raw)
    if other is not None:
        report["compare"] = compare(ours, predict(other, gold_docs, tags_are_upos=tags_are_upos), seen)
    return report


def morph_and_lemma(pred: Predictions, seen: numpy.ndarray, heads: Sequence[str]) -> Dict:
    """"morph" and "lemma": their figures, or None where the gold corpus or the
    pipeline lacks them, and "not_evaluated": {"morph"/"lemma": why not}."""
    result: Dict = {"morph": None, "lemma": None, "not_evaluated": {}}
    for kind, gold, guess, figures_of in (
        ("morph", pred.gold_morph, pred.morph, morph_figures),
        ("lemma", pred.gold_lemma, pred.lemma, lemma_figures),
    ):
        reason = not_evaluated(gold, guess, kind in heads, kind)
        if reason:
            result["not_evaluated"][kind] = reason
        else:
            result[kind] = figures_of(pred.words, gold, guess, seen)
    return result


def unknown_tag_warnings(gold: numpy.ndarray, labels: Sequence[str]) -> List[str]:
    """[a warning] when most gold tokens (> UNKNOWN_TAG_SHARE) carry tags the
    model does not know: a gold corpus with another tag set (UPOS against a
    model's XPOS, say), whose accuracy says little."""
    known = set(labels)
    unknown = Counter(tag for tag in gold.tolist() if tag not in known)
    n_unknown = sum(unknown.values())
    if n_unknown <= UNKNOWN_TAG_SHARE * len(gold):
        return []
    examples = ", ".join(tag for tag, _ in unknown.most_common(5))
    model_tags = ", ".join(list(labels)[:8]) + (", ..." if len(labels) > 8 else "")
    return [
        f"{n_unknown / len(gold):.0%} of the gold tokens ({n_unknown:,} of {len(gold):,}) carry "
        f"tags the model does not know (most often: {examples}); the model's tags are "
        f"{model_tags}: does the gold corpus use the model's tag set?"
    ]


def share_right(right: numpy.ndarray) -> Dict:
    return {"tokens": int(len(right)), "accuracy": float(right.mean()) if len(right) else None}


def accuracies(pred: Predictions) -> Dict[str, Optional[float]]:
    """XPOS and UPOS accuracy over the tokens with a gold label; None where the
    gold or the pipeline has no such labels."""
    result = {}
    for key, gold, guess in (("tag", pred.gold_tag, pred.tag), ("pos", pred.gold_pos, pred.pos)):
        has_gold = gold != ""
        if not has_gold.any() or not (guess != "").any():
            result[key] = None
        else:
            result[key] = float((guess[has_gold] == gold[has_gold]).mean())
    return result


def frequency_bands(pred: Predictions, right: numpy.ndarray, counts: Counter) -> List[Dict]:
    occurrences = numpy.array([counts.get(word_key(w), 0) for w in pred.words], dtype="int64")
    has_tag = pred.gold_tag != ""
    bands = []
    for low, high in FREQUENCY_BANDS:
        in_band = (occurrences >= low) & (occurrences <= (high if high is not None else numpy.inf))
        members = right[in_band & has_tag]
        if len(members):
            label = f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")
            bands.append({"band": label, **share_right(members)})
    return bands


def tag_counts(gold: numpy.ndarray, guess: numpy.ndarray) -> Dict[str, Dict[str, int]]:
    """True positives, false positives and false negatives of every tag."""
    counts: Dict[str, Dict[str, int]] = {}
    for g, p in zip(gold.tolist(), guess.tolist()):
        for tag in (g, p):
            counts.setdefault(tag, {"tp": 0, "fp": 0, "fn": 0})
        if g == p:
            counts[g]["tp"] += 1
        else:
            counts[g]["fn"] += 1
            counts[p]["fp"] += 1
    counts.pop("", None)  # "no tag predicted" is an error of the gold tag only
    return counts


def f1_of(c: Dict[str, int]) -> float:
    return 2 * c["tp"] / (2 * c["tp"] + c["fp"] + c["fn"]) if c["tp"] else 0.0


def per_tag(gold: numpy.ndarray, guess: numpy.ndarray) -> List[Dict]:
    """Precision, recall, F1 and support of each tag, most errors first."""
    rows = []
    for tag, c in tag_counts(gold, guess).items():
        rows.append({
            "tag": tag,
            "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0,
            "recall": c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0,
            "f1": f1_of(c),
            "support": c["tp"] + c["fn"],
            "errors": c["fp"] + c["fn"],
        })
    return sorted(rows, key=lambda r: (-r["errors"], -r["support"], r["tag"]))


def confusion(gold: numpy.ndarray, guess: numpy.ndarray, n_tags: int = N_CONFUSED_TAGS) -> Dict:
    """Gold-by-predicted counts among the tags most involved in errors."""
    wrong = Counter()
    for g, p in zip(gold.tolist(), guess.tolist()):
        if g != p:
            wrong[g] += 1
            wrong[p] += 1
    tags = [tag for tag, _ in wrong.most_common(n_tags)]
    index = {tag: i for i, tag in enumerate(tags)}
    matrix = [[0] * len(tags) for _ in tags]
    for g, p in zip(gold.tolist(), guess.tolist()):
        if g in index and p in index:
            matrix[index[g]][index[p]] += 1
    pairs = Counter((g, p) for g, p in zip(gold.tolist(), guess.tolist()) if g != p)
    return {
        "tags": tags,
        "matrix": matrix,
        "pairs": [{"gold": g, "predicted": p, "count": n} for (g, p), n in pairs.most_common(N_ERRORS)],
    }


def calibration(probs: numpy.ndarray, right: numpy.ndarray) -> Dict:
    """Reliability bins, ECE and the kept-share curve of the tokens that have a
    tag_prob (all of them, for an lstm_tagger pipeline)."""
    has_prob = ~numpy.isnan(probs)
    probs, right = probs[has_prob], right[has_prob]
    if not len(probs):
        return {"tokens": 0, "ece": None, "bins": [], "kept": []}
    return {
        "tokens": int(len(probs)),
        **reliability(probs, right),
        "kept": kept_curve(probs, right, KEPT_SHARES),
    }


def morph_calibration(pred: Predictions) -> Dict:
    """`calibration` of morph_prob on the tokens with gold FEATS: right when
    the whole FEATS string is."""
    has_gold = pred.gold_morph != ""
    return calibration(pred.morph_prob[has_gold], (pred.morph == pred.gold_morph)[has_gold])


def frequent_errors(pred: Predictions, gold_docs: Sequence[Doc], n: int = N_ERRORS) -> List[Dict]:
    """The most frequent (word, gold tag, predicted tag) errors, each with the
    context of its first occurrence."""
    errors: Counter = Counter()
    first: Dict[tuple, int] = {}
    for i, (word, g, p) in enumerate(zip(pred.words, pred.gold_tag.tolist(), pred.tag.tolist())):
        if g and g != p:
            key = (word_key(word), g, p)
            errors[key] += 1
            first.setdefault(key, i)
    starts = numpy.searchsorted(pred.sentence, numpy.arange(len(gold_docs)))
    rows = []
    for (word, g, p), count in errors.most_common(n):
        i = first[(word, g, p)]
        doc = gold_docs[pred.sentence[i]]
        at = i - starts[pred.sentence[i]]
        rows.append({
            "word": word, "gold": g, "predicted": p, "count": count,
            "context": context(doc, at),
        })
    return rows


def context(doc: Doc, at: int) -> Dict[str, str]:
    """Up to CONTEXT_TOKENS tokens either side of token `at`."""
    left = [t.text for t in doc[max(0, at - CONTEXT_TOKENS) : at]]
    right = [t.text for t in doc[at + 1 : at + 1 + CONTEXT_TOKENS]]
    return {
        "before": ("... " if at > CONTEXT_TOKENS else "") + " ".join(left),
        "word": doc[at].text,
        "after": " ".join(right) + (" ..." if at + 1 + CONTEXT_TOKENS < len(doc) else ""),
    }


def compare(ours: Predictions, theirs: Predictions, seen: numpy.ndarray) -> Dict:
    """The two pipelines side by side on the same gold tokens: accuracies,
    where only one of them is right, and per-tag F1."""
    has_tag = ours.gold_tag != ""
    ours_right = (ours.tag == ours.gold_tag) & has_tag
    their_right = (theirs.tag == ours.gold_tag) & has_tag
    gold = ours.gold_tag[has_tag]
    ours_counts = tag_counts(gold, ours.tag[has_tag])
    their_counts = tag_counts(gold, theirs.tag[has_tag])
    rows = []
    for tag in sorted(set(gold.tolist())):
        is_tag = ours.gold_tag == tag
        rows.append({
            "tag": tag,
            "support": int(is_tag.sum()),
            "f1": f1_of(ours_counts[tag]),
            "other_f1": f1_of(their_counts[tag]),  # tag_counts counts every gold tag
            "only_ours_right": int((is_tag & ours_right & ~their_right).sum()),
            "only_other_right": int((is_tag & their_right & ~ours_right).sum()),
        })
    rows.sort(key=lambda r: (-abs(r["only_ours_right"] - r["only_other_right"]), -r["support"], r["tag"]))
    return {
        "accuracy": accuracies(ours),
        "other_accuracy": accuracies(theirs),
        "other_unseen_accuracy": share_right(their_right[has_tag & ~seen])["accuracy"],
        "only_ours_right": int((ours_right & ~their_right).sum()),
        "only_other_right": int((their_right & ~ours_right).sum()),
        "per_tag": rows,
    }


def word_counts(docs: Iterable[Doc]) -> Counter:
    return Counter(word_key(t.text) for doc in docs for t in doc)
