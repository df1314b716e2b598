"""Examples -> the gold labels of each head, as the loss takes them.

Tokens whose gold tokenization differs (misaligned) or that have no gold label
are left out; a label of `neg_prefix` and a known label ("!NN") says the token
is not that label; a teacher's distribution comes with the Docs (soft_targets.py).
"""
from typing import List, Optional, Tuple

import numpy
from spacy.training import Example

from .layout import Head, label_problem
from .loss import GoldLabels
from .soft_targets import soft_targets


def aligned(eg: Example, attr: str, name: str) -> List[str]:
    """The gold `attr` of each predicted token ("" if missing or misaligned)."""
    try:
        return eg.get_aligned(attr, as_string=True)
    except ValueError as err:  # spaCy's E949: the texts differ
        raise ValueError(f"[{name}] example {eg.reference.text[:60]!r}: {err}") from None


def split_negation(gold: str, neg_prefix: str) -> Tuple[str, bool]:
    """("NN", True) for "!NN"; the prefix alone is a label of its own (VTB has "!")."""
    if neg_prefix and gold.startswith(neg_prefix) and gold != neg_prefix:
        return gold[len(neg_prefix) :], True
    return gold, False


def gold_labels(
    examples: List[Example], head: Head, neg_prefix: str, name: str, with_teacher: bool
) -> GoldLabels:
    """The gold annotation of `head` over the examples' flat token rows."""
    label_index = {label: i for i, label in enumerate(head.labels)}
    rows: List[int] = []
    columns: List[int] = []
    negative: List[bool] = []
    start = 0
    for eg in examples:
        for i, gold in enumerate(aligned(eg, head.attr, name)):
            if not gold:  # missing or misaligned: no loss
                continue
            label, negated = split_negation(gold, neg_prefix)
            if label not in label_index:
                raise ValueError(
                    f"[{name}] gold {head.attr.lower()} label {gold!r} (token "
                    f"{i} of {eg.reference.text[:60]!r}) is not among the "
                    f"{len(head.labels)} labels seen at initialize"
                )
            rows.append(start + i)
            columns.append(label_index[label])
            negative.append(negated)
        start += len(eg.predicted)
    teacher = teacher_targets(examples, head, name) if with_teacher and rows else None
    return GoldLabels(
        numpy.array(rows, dtype="int64"),
        numpy.array(columns, dtype="int64"),
        numpy.array(negative, dtype="bool"),
        teacher,
    )


def teacher_targets(examples: List[Example], head: Head, name: str) -> Optional[numpy.ndarray]:
    """The teacher's distribution for every flat token row (zeros where there
    is none), or None when no example carries any. Only examples whose tokens
    are the reference's own can use them."""
    teacher = None
    start = 0
    for eg in examples:
        try:
            probs = soft_targets(eg.reference, head.attr, head.labels)
        except ValueError as err:
            raise ValueError(f"[{name}] example {eg.reference.text[:60]!r}: {err}") from None
        same_tokens = probs is not None and (
            [t.text for t in eg.predicted] == [t.text for t in eg.reference]
        )
        if same_tokens:
            if teacher is None:
                n_rows = sum(len(other.predicted) for other in examples)
                teacher = numpy.zeros((n_rows, len(head.labels)), dtype="f")
            teacher[start : start + len(probs)] = probs
        start += len(eg.predicted)
    return teacher


def labels_seen(examples: List[Example], attr: str, neg_prefix: str) -> List[str]:
    """The labels of token attribute `attr` ("tag_", "pos_") in the examples'
    references, sorted; a negative "!NN" counts for NN. Raises ValueError,
    naming the label and its token, for a label that no label may be."""
    seen = set()
    for eg in examples:
        for token in eg.reference:
            value = getattr(token, attr)
            if not value:
                continue
            label = split_negation(value, neg_prefix)[0]
            if label not in seen:
                problem = label_problem(label)
                if problem:
                    raise ValueError(
                        f"the gold {attr.rstrip('_')} {value!r} of token {token.i} of example "
                        f"{eg.reference.text[:60]!r} {problem}"
                    )
                seen.add(label)
    return sorted(seen)
