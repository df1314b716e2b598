"""Which columns of the network's scores belong to which head.

The network scores every token once; its columns are the heads' labels one
head after another (tags, UPOS labels, morphological features, lemma rules),
each head normalised on its own. Features are one head ("morph", whole FEATS
strings) or one per feature ("morph:Case"...), in the order given.
`OutputLayout` is the one place that knows this order: the component, the loss,
the confidences and distillation ask it for a head's columns instead of slicing.
"""
import unicodedata
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

# The heads in column order: name -> the Example/Token attribute it predicts.
HEAD_ATTRS = {"tag": "TAG", "pos": "POS", "morph": "MORPH", "lemma": "LEMMA"}
# Characters that no label may hold: controls (tab, newline, ...), line and
# paragraph separators, lone surrogates. A label is written as it is into a
# column of a tab-separated CoNLL-U line.
_BAD_CATEGORIES = {"Cc": "control character", "Cs": "lone surrogate",
                   "Zl": "line separator", "Zp": "paragraph separator"}


def label_problem(label: Any) -> Optional[str]:
    """Why `label` cannot be a label, as the end of a sentence that names it
    ("contains the control character U+0009"), or None if it can."""
    if not isinstance(label, str) or not label:
        return "is not a non-empty string"
    for char in label:
        kind = _BAD_CATEGORIES.get(unicodedata.category(char))
        if kind:
            return f"contains the {kind} U+{ord(char):04X}"
    if label != label.strip():
        return "starts or ends with whitespace"
    return None


def family(name: str) -> str:
    """The kind of head: "morph" for "morph:Case"; else the name itself."""
    return name.split(":", 1)[0]


@dataclass(frozen=True)
class Head:
    """One head: its labels and where its columns start."""

    name: str  # "tag", "pos", "morph", "morph:Case", "lemma"
    labels: Tuple[str, ...]
    start: int

    @property
    def attr(self) -> str:
        """The attribute it predicts, as Example.get_aligned names it ("TAG")."""
        return HEAD_ATTRS[family(self.name)]

    @property
    def columns(self) -> slice:
        return slice(self.start, self.start + len(self.labels))


class OutputLayout:
    """The heads of a model, in column order; a head without labels is absent."""

    def __init__(self, labels: Dict[str, Sequence[str]]):
        unknown = sorted(name for name in labels if family(name) not in HEAD_ATTRS)
        if unknown:
            raise ValueError(f"unknown heads {unknown} (known: {', '.join(HEAD_ATTRS)})")
        heads, start = [], 0
        for kind in HEAD_ATTRS:
            for name in (name for name in labels if family(name) == kind):
                head_labels = tuple(labels[name])
                if head_labels:
                    heads.append(Head(name, head_labels, start))
                    start += len(head_labels)
        self.heads: Tuple[Head, ...] = tuple(heads)
        self.n_columns = start

    def __iter__(self) -> Iterator[Head]:
        return iter(self.heads)

    def __contains__(self, name: str) -> bool:
        return any(head.name == name for head in self.heads)

    def __getitem__(self, name: str) -> Head:
        for head in self.heads:
            if head.name == name:
                return head
        raise KeyError(f"the model has no {name!r} head")

    def of(self, kind: str) -> Tuple[Head, ...]:
        """The heads of a kind ("morph": "morph" or every "morph:..." head)."""
        return tuple(head for head in self.heads if family(head.name) == kind)

    def size(self, name: str) -> int:
        """The number of labels of a head, 0 if it has none."""
        return len(self[name].labels) if name in self else 0
