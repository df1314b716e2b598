"""Scores -> annotations: the last step of the data path. Each head's best
label is written into its Token attribute, a whole batch at once with
`Doc.from_array`, and the tag's calibrated probability into `token._.tag_prob`
(and the top tags into `token._.tag_top_k`).
"""
from typing import List, Sequence

import numpy
from spacy.attrs import POS, TAG
from spacy.parts_of_speech import IDS as UPOS_IDS
from spacy.strings import StringStore
from spacy.tokens import Doc

from .calibration import log_probs_of, scale
from .confidence import set_confidences
from .layout import OutputLayout

ATTR_IDS = {"tag": TAG, "pos": POS}


def label_values(layout: OutputLayout, name: str, strings: StringStore) -> numpy.ndarray:
    """The value that Doc.from_array takes for each label of head `name`."""
    labels = layout[name].labels
    if name == "pos":
        return numpy.array([UPOS_IDS[label] for label in labels], dtype="uint64")
    return numpy.array([strings.add(label) for label in labels], dtype="uint64")


def write_annotations(
    docs: Sequence[Doc],
    flat: numpy.ndarray,
    layout: OutputLayout,
    strings: StringStore,
    *,
    heads: Sequence[str],
    overwrite: bool,
    tag_temperature: float,
    top_k: int,
) -> None:
    """Write each head's most likely label for every token of `docs`.

    flat (numpy.ndarray): (n_tokens, layout.n_columns) probabilities of the
        Docs' tokens, Doc after Doc.
    heads (Sequence[str]): the heads whose labels are written ("tag", "pos");
        the attributes of the others are never touched.
    overwrite (bool): replace labels a Doc already has; otherwise a token keeps
        a label it has (its tag_prob is still the model's own prediction's).
    tag_temperature (float): divides the tag scores behind tag_prob (calibration).
    top_k (int): tags kept per token in `token._.tag_top_k`; 0 for none.
    """
    heads = [head for head in layout if head.name in heads]
    attrs: List[int] = [ATTR_IDS[head.name] for head in heads]
    best = {head.name: flat[:, head.columns].argmax(axis=1) for head in layout}
    values = numpy.stack(
        [label_values(layout, head.name, strings)[best[head.name]] for head in heads], axis=1
    )
    tags = layout["tag"]
    # Calibrated probabilities (calibration.py), once for the batch; the
    # predicted tag stays the most likely one.
    tag_log_probs = scale(log_probs_of(flat[:, tags.columns]), tag_temperature)
    set_confidences(docs, tag_log_probs, best["tag"], tags.labels, top_k)
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
