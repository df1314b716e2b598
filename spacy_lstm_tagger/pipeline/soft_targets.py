"""What a teacher leaves in a training Doc for a student (distillation): its
distribution over each head's labels, per token.

This is the whole contract between distillation (training/distill.py, which
writes the targets) and the component (which learns from them): they travel with
the Docs, in `doc.user_data[TEACHER_KEY]`, so a .spacy corpus written with them
trains a student with `spacy train` too:
{"TAG": {"labels": [...], "probs": (n_tokens, n_labels) float16}, "POS": {...}}.
"""
from typing import Optional, Sequence

import numpy
from spacy.tokens import Doc

TEACHER_KEY = "lstm_tagger_teacher"


def soft_targets(doc: Doc, attr: str, labels: Sequence[str]) -> Optional[numpy.ndarray]:
    """The teacher's distribution over `labels` for each token of `doc`, or None
    when the Doc carries none for this attribute ("TAG", "POS"). It comes from a
    corpus file, so it is checked; labels the student does not have are dropped
    and the rest renormalised.

    RAISES (ValueError): if the stored targets are malformed.
    """
    stored = doc.user_data.get(TEACHER_KEY)
    if stored is None:
        return None
    entry = stored.get(attr) if isinstance(stored, dict) else None
    if entry is None:
        return None
    teacher_labels = entry.get("labels") if isinstance(entry, dict) else None
    probs = entry.get("probs") if isinstance(entry, dict) else None
    if (
        not isinstance(teacher_labels, (list, tuple))  # a DocBin reads tuples
        or not all(isinstance(label, str) for label in teacher_labels)
        or not isinstance(probs, numpy.ndarray)
        or probs.shape != (len(doc), len(teacher_labels))
        or probs.dtype.kind != "f"
        or not numpy.isfinite(probs).all()
        or (probs < 0).any()
    ):
        raise ValueError(
            f"the teacher's {attr} distributions ({TEACHER_KEY} in the Doc's "
            f"user_data) are malformed: expected labels and a ({len(doc)}, n_labels) "
            "array of probabilities"
        )
    index = {label: i for i, label in enumerate(labels)}
    # The teacher's labels are the student's, unless the corpora differ.
    kept = [(i, index[label]) for i, label in enumerate(teacher_labels) if label in index]
    target = numpy.zeros((len(doc), len(labels)), dtype="float32")
    if kept:
        source, column = (numpy.array(a) for a in zip(*kept))
        target[:, column] = probs[:, source]
    total = target.sum(axis=1, keepdims=True)
    return numpy.divide(target, total, out=numpy.zeros_like(target), where=total > 0)
