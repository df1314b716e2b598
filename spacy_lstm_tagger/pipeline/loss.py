"""The training loss: a pure function of the probabilities, the output layout
and the gold labels, with no Docs or Examples in sight (the component turns
those into `GoldLabels`, gold.py).
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from thinc.api import get_array_module
from thinc.types import Floats2d, Ints1d

from .layout import OutputLayout


@dataclass
class GoldLabels:
    """The gold annotation of one head, over the batch's flat token rows.

    rows (Ints1d): the token rows that have a gold label.
    columns (Ints1d): the label's column within the head, for each of `rows`.
    negative (Bools1d): whether the label is negated ("!NN": not NN).
    teacher (Floats2d or None): a teacher's distribution over the head's labels
        for every flat row (all zeros where there is none), or None.
    """

    rows: Ints1d
    columns: Ints1d
    negative: Ints1d  # bools
    teacher: Optional[Floats2d] = None


def tagger_loss(
    layout: OutputLayout,
    flat: Floats2d,
    gold: Dict[str, GoldLabels],
    *,
    label_smoothing: float = 0.0,
    teacher_weight: float = 0.0,
) -> Tuple[float, Floats2d]:
    """spaCy's tagger loss for each head, as thinc's SequenceCategoricalCrossentropy
    computes it (not normalised): the gradient is the probabilities minus the
    target, on the rows that have a gold label; other rows cost nothing. The
    target is the gold label with `label_smoothing` of its weight spread over
    the other labels, and where a teacher's distribution is given,
    `teacher_weight` of it. A negative label ("!NN") leaves the row's other
    labels alone and pushes NN towards 0. The loss is the sum of the squared
    gradient, as spaCy reports it.

    flat (Floats2d): (n_tokens, layout.n_columns) probabilities.
    RETURNS (Tuple[float, Floats2d]): the loss, and its gradient with respect
        to the scores before each head's softmax.
    """
    d_flat = flat * 0
    for head in layout:
        if head.name in gold:
            _head_gradient(flat[:, head.columns], d_flat[:, head.columns], gold[head.name],
                           label_smoothing, teacher_weight)
    return float((d_flat**2).sum()), d_flat


def _head_gradient(
    probs: Floats2d, d_probs: Floats2d, gold: GoldLabels, label_smoothing: float, teacher_weight: float
) -> None:
    """One head's gradient, written into `d_probs` (a view)."""
    xp = get_array_module(probs)
    rows, columns, negative = (xp.asarray(a) for a in (gold.rows, gold.columns, gold.negative))
    if not len(rows):
        return
    n_labels = probs.shape[1]
    positive = ~negative
    if positive.any():
        smoothing = label_smoothing if n_labels > 1 else 0.0
        other = smoothing / max(1, n_labels - 1)
        target = xp.full((int(positive.sum()), n_labels), other, dtype="f")
        target[xp.arange(len(target)), columns[positive]] = 1.0 - smoothing
        if gold.teacher is not None and teacher_weight:
            teacher = xp.asarray(gold.teacher)[rows[positive]]
            # Rows without a teacher's distribution (all zeros) keep the gold target.
            weight = teacher_weight * (teacher.sum(axis=1, keepdims=True) > 0)
            target = (1.0 - weight) * target + weight * teacher
        d_probs[rows[positive]] = probs[rows[positive]] - target
    if negative.any():
        rows, columns = rows[negative], columns[negative]
        d_probs[rows, columns] = probs[rows, columns]
