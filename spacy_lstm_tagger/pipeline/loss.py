"""The training loss: a pure function of the scores, the output layout and the
gold labels, with no Docs or Examples in sight (the component turns those into
`GoldLabels`, gold.py).
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
    """Cross-entropy of each head's gold labels, with label smoothing, averaged
    over the rows that have one; rows without a gold label cost nothing. A
    negative label ("!NN") costs -log(1 - p(NN)). Where a teacher's
    distribution is given, the target is `teacher_weight` of it and the rest
    the (smoothed) gold label.

    flat (Floats2d): (n_tokens, layout.n_columns) log-probabilities.
    RETURNS (Tuple[float, Floats2d]): the loss, and its gradient with respect to `flat`.
    """
    d_flat = flat * 0
    loss = 0.0
    for head in layout:
        if head.name in gold:
            loss += _head_loss(
                flat[:, head.columns], d_flat[:, head.columns], gold[head.name],
                label_smoothing, teacher_weight,
            )
    return loss, d_flat


def _head_loss(
    log_probs: Floats2d, d_log_probs: Floats2d, gold: GoldLabels, label_smoothing: float, teacher_weight: float
) -> float:
    """One head's loss; its gradient is written into `d_log_probs` (a view)."""
    xp = get_array_module(log_probs)
    rows, columns, negative = (xp.asarray(a) for a in (gold.rows, gold.columns, gold.negative))
    if not len(rows):
        return 0.0
    n_labels, n_rows = log_probs.shape[1], len(rows)
    loss = 0.0
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
        loss += float(-(target * log_probs[rows[positive]]).sum()) / n_rows
        d_log_probs[rows[positive]] = -target / n_rows
    if negative.any():
        rows, columns = rows[negative], columns[negative]
        p = xp.exp(log_probs[rows, columns]).clip(0.0, 1.0 - 1e-6)
        loss += float(-xp.log1p(-p).sum()) / n_rows
        d_log_probs[rows, columns] = p / (1.0 - p) / n_rows
    return loss

