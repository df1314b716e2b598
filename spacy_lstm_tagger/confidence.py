"""How sure the tagger is: `token._.tag_prob` and, if asked, `token._.tag_top_k`.

Both come from the whole Doc's score matrix at once (numpy), and are written
straight into `doc.user_data` under the keys that `token._` reads (setting them
through `token._` costs about 2 µs a token, several per cent of tagging time;
this way it is about 0.6 µs). Being ordinary extension values, keyed by the
token's character offset, they travel with `Doc.to_bytes` (and so come back from
`nlp.pipe(..., n_process=2)` workers) and stay with their tokens when a Doc is
retokenized.
"""
from typing import Sequence

import numpy
from spacy.attrs import IDX
from spacy.tokens import Doc, Token
from thinc.types import Floats2d, Ints1d

TAG_PROB = "tag_prob"
TAG_TOP_K = "tag_top_k"


def register_extensions() -> None:
    """Register `token._.tag_prob` and `token._.tag_top_k` (default None), unless
    they already are: safe to call for every component created."""
    for name in (TAG_PROB, TAG_TOP_K):
        if not Token.has_extension(name):
            Token.set_extension(name, default=None)


def _key(name: str, token_idx: int) -> tuple:
    # The key under which `token._.<name>` is stored (spacy.tokens.underscore);
    # the tests read the values back through `token._`.
    return ("._.", name, token_idx, None)


def set_confidences(
    doc: Doc,
    tag_log_probs: Floats2d,
    best: Ints1d,
    labels: Sequence[str],
    top_k: int,
) -> None:
    """Store each token's probability of its predicted tag and, if top_k > 0,
    its top_k tags with their probabilities.

    doc (Doc): the Doc, with one row of scores per token.
    tag_log_probs (Floats2d): log-probabilities of the tags (no UPOS columns).
    best (Ints1d): the predicted tag's column for each token.
    labels (Sequence[str]): the tag of each column.
    top_k (int): how many tags to keep per token; 0 for none.
    """
    idxs = doc.to_array(IDX).tolist()  # character offsets, without Token objects
    chosen = numpy.exp(tag_log_probs[numpy.arange(len(best)), best])
    doc.user_data.update(zip([_key(TAG_PROB, i) for i in idxs], chosen.tolist()))
    if top_k <= 0:
        return
    k = min(top_k, len(labels))
    probs = numpy.exp(tag_log_probs)
    # Stable, so that among equal probabilities the first column wins, as in argmax.
    top = numpy.argsort(-probs, axis=1, kind="stable")[:, :k]
    top_probs = numpy.take_along_axis(probs, top, axis=1).tolist()
    top_tags = numpy.asarray(labels, dtype=object)[top].tolist()
    values = [list(zip(tags, ps)) for tags, ps in zip(top_tags, top_probs)]
    doc.user_data.update(zip([_key(TAG_TOP_K, i) for i in idxs], values))
