"""Distillation: an ensemble of trained taggers (the teachers) labels the training
Docs with its averaged tag distributions, and a tagger trained on them (the
student) learns those soft targets beside the gold tags.

The soft targets travel with the Docs, in `doc.user_data[TEACHER_KEY]`, so a
.spacy corpus written with them trains a student with `spacy train` too:
{"TAG": {"labels": [...], "probs": (n_tokens, n_labels) float16}, "POS": {...}}.
The student's `teacher_weight` says how much of its target they make up.
"""
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy
import spacy
from spacy import util
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from .corpus import read_docs, write_docbin
from .evaluation import find_tagger
from .train import train

PathLike = Union[str, Path]

TEACHER_KEY = "lstm_tagger_teacher"
HEADS = ("TAG", "POS")


def ensemble_probs(teachers: Sequence[Language], docs: List[Doc], batch_size: int = 128):
    """The teachers' probabilities averaged, per Doc and head.

    RETURNS (List[Dict[str, dict]]): for each Doc, {"TAG": {"labels", "probs"},
        "POS": ...}; POS only where every teacher has a UPOS head.
    """
    if not teachers:
        raise ValueError("distillation needs at least one teacher")
    pipes = []
    for i, nlp in enumerate(teachers, 1):
        try:
            pipes.append(find_tagger(nlp))
        except ValueError as err:
            raise ValueError(f"teacher #{i}: {err}") from None
    heads = {"TAG": list(pipes[0].labels)}
    if all(pipe.model.shape.n_pos for pipe in pipes):
        heads["POS"] = list(pipes[0].pos_labels)
    for i, pipe in enumerate(pipes[1:], 2):
        same_pos = "POS" not in heads or list(pipe.pos_labels) == heads["POS"]
        if list(pipe.labels) != heads["TAG"] or not same_pos:
            raise ValueError(
                f"teacher #{i} has other labels than teacher #1: train the teachers on one corpus"
            )
    n_tags = len(heads["TAG"])
    result: List[Dict[str, dict]] = []
    vocab = Vocab()  # one for the batch: the Docs may come from several
    for start in range(0, len(docs), batch_size):
        part = docs[start : start + batch_size]
        batch = [Doc(vocab, words=[t.text for t in doc]) for doc in part]
        summed = None
        for pipe in pipes:
            probs = [numpy.exp(pipe.model.ops.to_numpy(scores)) for scores in pipe.predict(batch)]
            summed = probs if summed is None else [a + b for a, b in zip(summed, probs)]
        for probs in summed:
            probs /= len(pipes)
            columns = {"TAG": probs[:, :n_tags], "POS": probs[:, n_tags:]}
            result.append(
                {head: {"labels": labels, "probs": columns[head]} for head, labels in heads.items()}
            )
    return result


def add_soft_targets(teachers: Sequence[Language], docs: List[Doc]) -> None:
    """Store the teachers' averaged distributions in each Doc's user_data."""
    for doc, targets in zip(docs, ensemble_probs(teachers, docs)):
        doc.user_data[TEACHER_KEY] = {
            head: {"labels": t["labels"], "probs": t["probs"].astype("float16")}
            for head, t in targets.items()
        }


def soft_targets(doc: Doc, head: str, labels: Sequence[str]) -> Optional[numpy.ndarray]:
    """The teacher's distribution over `labels` for each token of `doc`, or None
    when the Doc carries none for this head. It comes from a corpus file, so it
    is checked; labels the student does not have are dropped and the rest
    renormalised.

    RAISES (ValueError): if the stored targets are malformed.
    """
    stored = doc.user_data.get(TEACHER_KEY)
    if stored is None:
        return None
    entry = stored.get(head) if isinstance(stored, dict) else None
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
            f"the teacher's {head} distributions ({TEACHER_KEY} in the Doc's "
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


def ensemble_accuracy(teachers: Sequence[Language], docs: Iterable[Doc]) -> Dict[str, float]:
    """Accuracy of the ensemble's most likely tag (and UPOS) against the gold
    annotation of `docs` (gold tokens): what the teachers know together."""
    docs = list(docs)
    correct = {head: 0 for head in HEADS}
    total = {head: 0 for head in HEADS}
    for doc, targets in zip(docs, ensemble_probs(teachers, docs)):
        for head, t in targets.items():
            gold = [tok.tag_ if head == "TAG" else tok.pos_ for tok in doc]
            best = [t["labels"][i] for i in t["probs"].argmax(axis=1)]
            pairs = [(g, b) for g, b in zip(gold, best) if g]
            correct[head] += sum(g == b for g, b in pairs)
            total[head] += len(pairs)
    names = {"TAG": "tag_acc", "POS": "pos_acc"}
    return {names[h]: correct[h] / total[h] for h in HEADS if total[h]}


def configured_teachers(config_path: PathLike) -> int:
    """The number of teachers in the config's [distillation] section (0 without one)."""
    config = util.load_config(config_path, interpolate=False)
    teachers = config.get("distillation", {}).get("teachers", 0)
    if not isinstance(teachers, int) or isinstance(teachers, bool) or teachers < 0:
        raise ValueError(
            f"{config_path}: [distillation] teachers must be a whole number >= 0, got {teachers!r}"
        )
    return teachers


def train_distilled(
    config_path: PathLike,
    output_dir: PathLike,
    train_path: PathLike,
    dev_path: Optional[PathLike] = None,
    *,
    teachers: Optional[int] = None,
    seed: Optional[int] = None,
    resume: bool = False,
    meta: Optional[Dict[str, object]] = None,
    log=print,
    **options,
) -> Path:
    """Train `teachers` taggers (default: the config's [distillation] teachers;
    seeds seed, seed+1, ...) into OUTPUT/teacher-K, store their averaged
    distributions with the training Docs (OUTPUT/corpus/train-taught.spacy),
    and train the student (seed `seed`) on those into OUTPUT/model-best. Teacher 1 is the student without a teacher:
    same settings, same seed. With 0 teachers, just `train`. `options` go to
    `train` for every model (epochs, max_minutes, overrides); with `resume`,
    finished models are kept, an unfinished one continues and a missing one
    is trained.
    RETURNS (Path): the student's model-best.
    """
    output_dir = Path(output_dir)
    meta = dict(meta or {})
    if teachers is None:
        teachers = configured_teachers(config_path)
    if teachers:
        if seed is None:
            seed = util.load_config(config_path, interpolate=True)["training"]["seed"]
        teacher_dirs = []
        for k in range(1, teachers + 1):
            teacher_dir = output_dir / f"teacher-{k}"
            log(f"teacher {k} of {teachers} (seed {seed + k - 1}): {teacher_dir}")
            teacher_dirs.append(train(
                config_path, teacher_dir, train_path, dev_path, seed=seed + k - 1,
                resume=resume and (teacher_dir / "model-last").exists(), meta=meta, log=log,
                **options,
            ))
        nlps = [spacy.load(path) for path in teacher_dirs]
        docs = read_docs(train_path, Vocab())
        add_soft_targets(nlps, docs)
        train_path = output_dir / "corpus" / "train-taught.spacy"
        write_docbin(docs, train_path)
        # As `train` does, the training corpus is the dev corpus when there is none.
        ensemble_dev = ensemble_accuracy(nlps, read_docs(dev_path or train_path, Vocab()))
        log("teachers' ensemble on dev: " + ", ".join(
            f"{name} {value:.4f}" for name, value in ensemble_dev.items()
        ))
        summary = {"teachers": [str(path) for path in teacher_dirs], "ensemble_dev": ensemble_dev}
        meta["distillation"] = summary
        log(f"student: {output_dir}")
        resume = resume and (output_dir / "model-last").exists()
    return train(
        config_path, output_dir, train_path, dev_path, seed=seed, resume=resume, meta=meta,
        log=log, **options,
    )
