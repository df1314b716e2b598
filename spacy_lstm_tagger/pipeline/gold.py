"""Examples -> the gold labels of each head, as the loss takes them.

Tokens whose gold tokenization differs (misaligned) or that have no gold label
are left out; a tag or UPOS label of `neg_prefix` and a known label ("!NN") says
the token is not that label; a teacher's distribution comes with the Docs
(soft_targets.py). A morph head's gold label comes from the gold FEATS string
(morphology.py), the lemma head's is the rule from the form to the gold lemma
(lemma_rules.py); a feature value or rule not seen at initialize costs nothing.
"""
from functools import lru_cache
from typing import List, Optional, Tuple

import numpy
from spacy.training import Example

from .layout import Head, family, label_problem
from .lemma_rules import make_rule
from .morphology import head_gold
from .loss import GoldLabels
from .soft_targets import soft_targets


def aligned(eg: Example, attr: str, name: str) -> List[str]:
    """The gold `attr` of each predicted token ("" if missing or misaligned)."""
    try:
        return eg.get_aligned(attr, as_string=True)
    except ValueError as err:  # spaCy's E949: the texts differ
        raise ValueError(f"[{name}] example {eg.reference.text[:60]!r}: {err}") from None


@lru_cache(maxsize=100_000)
def rule_label(form: str, lemma: str) -> str:
    return make_rule(form, lemma).label


def head_values(eg: Example, head: Head, name: str) -> List[str]:
    """The gold label of `head` for each predicted token ("" if none)."""
    kind = family(head.name)
    values = aligned(eg, head.attr, name)
    if kind == "morph":
        return [head_gold(value, head.name) for value in values]
    if kind == "lemma":
        return [
            rule_label(token.text, lemma) if lemma else ""
            for token, lemma in zip(eg.predicted, values)
        ]
    return values


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
    tagging = family(head.name) in ("tag", "pos")
    for eg in examples:
        for i, gold in enumerate(head_values(eg, head, name)):
            if not gold:  # missing or misaligned: no loss
                continue
            label, negated = split_negation(gold, neg_prefix) if tagging else (gold, False)
            if not tagging and label not in label_index:
                continue
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
    teacher = teacher_targets(examples, head, name) if with_teacher and tagging and rows else None
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
