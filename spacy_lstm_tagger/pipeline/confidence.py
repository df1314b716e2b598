"""How sure the tagger is: `token._.tag_prob` and, if asked, `token._.tag_top_k`;
`token._.morph_prob` where it writes `token.morph`.

They come from the whole batch's score matrix at once (numpy), and are written
straight into `doc.user_data` under the keys that `token._` reads (setting them
through `token._` costs about 2 µs a token, several per cent of tagging time;
this way it is about 0.6 µs). Being ordinary extension values, keyed by the
token's character offset, they travel with `Doc.to_bytes` (and so come back from
`nlp.pipe(..., n_process=2)` workers) and stay with their tokens when a Doc is
retokenized.
"""
from itertools import repeat
from typing import Optional, Sequence

import numpy
from spacy.attrs import IDX
from spacy.tokens import Doc, Token
from thinc.types import Floats1d, Floats2d, Ints1d

TAG_PROB = "tag_prob"
TAG_TOP_K = "tag_top_k"
MORPH_PROB = "morph_prob"


def register_extensions() -> None:
    """Register `token._.tag_prob`, `token._.tag_top_k` and `token._.morph_prob`
    (default None), unless they already are: safe to call for every component
    created."""
    for name in (TAG_PROB, TAG_TOP_K, MORPH_PROB):
        if not Token.has_extension(name):
            Token.set_extension(name, default=None)


def set_confidences(
    docs: Sequence[Doc],
    tag_log_probs: Floats2d,
    best: Ints1d,
    labels: Sequence[str],
    top_k: int,
    morph_probs: Optional[Floats1d] = None,
) -> None:
    """Store each token's probability of its predicted tag and, if top_k > 0,
    its top_k tags with their probabilities; and `morph_probs`, if given.

    docs (Sequence[Doc]): the Docs, whose tokens are the rows, Doc after Doc.
    tag_log_probs (Floats2d): log-probabilities of the tags (no UPOS columns).
    best (Ints1d): the predicted tag's column for each token.
    labels (Sequence[str]): the tag of each column.
    top_k (int): how many tags to keep per token; 0 for none.
    morph_probs (Floats1d): each token's probability of its predicted FEATS.
    """
    # Whole columns of values for the batch; no Python code runs per token.
    columns = {TAG_PROB: numpy.exp(tag_log_probs[numpy.arange(len(best)), best]).tolist()}
    if top_k > 0:
        k = min(top_k, len(labels))
        probs = numpy.exp(tag_log_probs)
        # Stable, so that among equal probabilities the first column wins, as in argmax.
        top = numpy.argsort(-probs, axis=1, kind="stable")[:, :k]
        top_probs = numpy.take_along_axis(probs, top, axis=1).tolist()
        top_tags = numpy.asarray(labels, dtype=object)[top].tolist()
        columns[TAG_TOP_K] = list(map(list, map(zip, top_tags, top_probs)))
    if morph_probs is not None:
        columns[MORPH_PROB] = numpy.asarray(morph_probs).tolist()
    end = 0
    for doc in docs:
        start, end = end, end + len(doc)
        idxs = doc.to_array(IDX).tolist()  # character offsets, without Token objects
        for name, column in columns.items():
            # The keys under which `token._.<name>` is stored (spacy.tokens.underscore);
            # the tests read the values back through `token._`.
            keys = zip(repeat("._."), repeat(name), idxs, repeat(None))
            doc.user_data.update(zip(keys, column[start:end]))
