"""Distillation: an ensemble of trained taggers (the teachers) labels the training
Docs with its averaged distributions, and a tagger trained on them (the
student) learns those soft targets beside the gold tags.

What the teachers leave in the Docs, and how the student reads it, is the
contract of pipeline/soft_targets.py. The student's `teacher_weight` says how
much of its target they make up.
"""
from pathlib import Path
from typing import Dict, Iterable, List, Sequence

import numpy
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..data.corpus import write_docbin
from ..pipeline.component import find_lstm_tagger
from ..pipeline.soft_targets import TEACHER_KEY
from ..types import PathLike
from .config_file import read_config
from .corpora import Corpora
from .loop import train
from .options import TrainingOptions



def ensemble_probs(teachers: Sequence[Language], docs: List[Doc], batch_size: int = 128):
    """The teachers' probabilities averaged, per Doc and head.

    RETURNS (List[Dict[str, dict]]): for each Doc, {"TAG": {"labels", "probs"},
        "POS": ...}, keyed by the attribute each head predicts.
    """
    if not teachers:
        raise ValueError("distillation needs at least one teacher")
    pipes = []
    for i, nlp in enumerate(teachers, 1):
        try:
            pipes.append(find_lstm_tagger(nlp))
        except ValueError as err:
            raise ValueError(f"teacher #{i}: {err}") from None
    layout = pipes[0].layout
    for i, pipe in enumerate(pipes[1:], 2):
        if [(h.name, h.labels) for h in pipe.layout] != [(h.name, h.labels) for h in layout]:
            raise ValueError(
                f"teacher #{i} has other labels than teacher #1: train the teachers on one corpus"
            )
    result: List[Dict[str, dict]] = []
    vocab = Vocab()  # one for the batch: the Docs may come from several
    for start in range(0, len(docs), batch_size):
        part = docs[start : start + batch_size]
        batch = [Doc(vocab, words=[t.text for t in doc]) for doc in part]
        summed = None
        for pipe in pipes:
            probs = [pipe.model.ops.to_numpy(scores) for scores in pipe.predict(batch)]
            summed = probs if summed is None else [a + b for a, b in zip(summed, probs)]
        for probs in summed:
            probs /= len(pipes)
            result.append(
                # Tags and UPOS only: the morph and lemma heads learn from gold alone.
                {
                    head.attr: {"labels": list(head.labels), "probs": probs[:, head.columns]}
                    for head in layout
                    if head.name in ("tag", "pos")
                }
            )
    return result


def add_soft_targets(teachers: Sequence[Language], docs: List[Doc]) -> None:
    """Store the teachers' averaged distributions in each Doc's user_data."""
    for doc, targets in zip(docs, ensemble_probs(teachers, docs)):
        doc.user_data[TEACHER_KEY] = {
            attr: {"labels": t["labels"], "probs": t["probs"].astype("float16")}
            for attr, t in targets.items()
        }


def ensemble_accuracy(teachers: Sequence[Language], docs: Iterable[Doc]) -> Dict[str, float]:
    """Accuracy of the ensemble's most likely tag (and UPOS) against the gold
    annotation of `docs` (gold tokens): what the teachers know together."""
    docs = list(docs)
    gold_of = {"TAG": lambda tok: tok.tag_, "POS": lambda tok: tok.pos_}
    correct: Dict[str, int] = {}
    total: Dict[str, int] = {}
    for doc, targets in zip(docs, ensemble_probs(teachers, docs)):
        for attr, t in targets.items():
            best = [t["labels"][i] for i in t["probs"].argmax(axis=1)]
            pairs = [(gold_of[attr](tok), b) for tok, b in zip(doc, best) if gold_of[attr](tok)]
            correct[attr] = correct.get(attr, 0) + sum(g == b for g, b in pairs)
            total[attr] = total.get(attr, 0) + len(pairs)
    names = {"TAG": "tag_acc", "POS": "pos_acc"}
    return {names[attr]: correct[attr] / total[attr] for attr in total if total[attr]}


def configured_teachers(config_path: PathLike) -> int:
    """The number of teachers in the config's [distillation] section (0 without one)."""
    config = read_config(config_path)
    teachers = config.get("distillation", {}).get("teachers", 0)
    if not isinstance(teachers, int) or isinstance(teachers, bool) or teachers < 0:
        raise ValueError(
            f"{config_path}: [distillation] teachers must be a whole number >= 0, got {teachers!r}"
        )
    return teachers


def train_distilled(config_path: PathLike, output_dir: PathLike, corpora: Corpora, options: TrainingOptions) -> Path:
    """Train `options.teachers` taggers (default: the config's [distillation]
    teachers; seeds seed, seed+1, ...) into OUTPUT/teacher-K, store their
    averaged distributions with the training Docs (also written to
    OUTPUT/corpus/train-taught.spacy, for `spacy train`), and train the student
    (seed `seed`) on those into OUTPUT/model-best. Teacher 1 is the student
    without a teacher: same settings, same seed. With 0 teachers, just `train`.
    With `resume`, finished models are kept, an unfinished one continues and a
    missing one is trained.
    RETURNS (Path): the student's model-best.
    """
    output_dir = Path(output_dir)
    teachers = options.teachers
    if teachers is None:
        teachers = configured_teachers(config_path)
    if not teachers:
        return train(config_path, output_dir, corpora, options)
    log = options.log
    seed = options.seed
    if seed is None:
        seed = read_config(config_path).interpolate()["training"]["seed"]
    teacher_dirs = []
    for k in range(1, teachers + 1):
        teacher_dir = output_dir / f"teacher-{k}"
        log(f"teacher {k} of {teachers} (seed {seed + k - 1}): {teacher_dir}")
        teacher_options = options.with_changes(
            seed=seed + k - 1, resume=options.resume and (teacher_dir / "model-last").exists()
        )
        teacher_dirs.append(train(config_path, teacher_dir, corpora, teacher_options))
    nlps = [spacy.load(path) for path in teacher_dirs]
    add_soft_targets(nlps, corpora.train)
    write_docbin(corpora.train, output_dir / "corpus" / "train-taught.spacy")
    ensemble_dev = ensemble_accuracy(nlps, corpora.dev)
    log("teachers' ensemble on dev: " + ", ".join(f"{name} {value:.4f}" for name, value in ensemble_dev.items()))
    summary = {"teachers": [str(path) for path in teacher_dirs], "ensemble_dev": ensemble_dev}
    log(f"student: {output_dir}")
    student_options = options.with_changes(
        seed=seed,
        resume=options.resume and (output_dir / "model-last").exists(),
        meta={**options.meta, "distillation": summary},
    )
    return train(config_path, output_dir, corpora, student_options)
