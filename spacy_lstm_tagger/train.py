"""The project's own training loop: a config as `spacy train` reads it, corpora
in any format `corpus.read_docs` knows, and pipelines saved so that an interrupted
run always leaves the last good model behind.
"""
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Union

import spacy
from spacy import util
from spacy.language import Language
from spacy.training import Example
from spacy.util import registry
from thinc.api import fix_random_seed

from .calibration import fit_pipeline_temperatures
from .corpus import gold_examples, read_docs, write_docbin
from .curves import TrainingCurves

PathLike = Union[str, Path]
CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # package data
STATE_KEY = "lstm_tagger_training"  # in meta.json of the saved pipelines


def save_atomically(nlp: Language, path: Path) -> None:
    """Write the pipeline beside `path`, then swap it in: a crash mid-write
    leaves the previous pipeline in place, never a half-written one."""
    tmp = path.with_name(f".{path.name}.tmp")
    old = path.with_name(f".{path.name}.old")
    restore_interrupted_save(path)
    nlp.to_disk(tmp)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    if old.exists():
        shutil.rmtree(old)


def restore_interrupted_save(path: Path) -> None:
    """Clean up after an interrupted save_atomically: drop a half-written
    .NAME.tmp, and if the crash came between the two renames, which leaves no
    pipeline at `path`, put the last good one back from .NAME.old."""
    tmp = path.with_name(f".{path.name}.tmp")
    old = path.with_name(f".{path.name}.old")
    if tmp.exists():
        shutil.rmtree(tmp)
    if old.exists():
        if path.exists():
            shutil.rmtree(old)
        else:
            old.rename(path)


def train(
    config_path: PathLike,
    output_dir: PathLike,
    train_path: PathLike,
    dev_path: Optional[PathLike] = None,
    *,
    epochs: Optional[int] = None,
    seed: Optional[int] = None,
    resume: bool = False,
    max_minutes: Optional[float] = None,
    overrides: Optional[Dict[str, object]] = None,
    log=print,
) -> Path:
    """Train an `lstm_tagger` pipeline; write model-last after each epoch and
    model-best whenever the dev score improves. RETURNS (Path): model-best.

    config_path: a spaCy config; its [training] seed, dropout, max_epochs,
        optimizer and batcher are used.
    train_path, dev_path: .json, .conllu(.gz) or .spacy corpora; dev defaults to train.
    epochs, seed: override the config's max_epochs and seed.
    resume: continue from output_dir/model-last (the optimizer starts afresh).
    max_minutes: stop after the epoch that reaches this much wall time.
    """
    run_start = time.perf_counter()
    output_dir = Path(output_dir)
    overrides = dict(overrides or {})
    if seed is not None:
        overrides["system.seed"] = seed
    config = util.load_config(config_path, overrides=overrides, interpolate=False)
    config = config.interpolate()
    training = config["training"]
    seed = training["seed"]
    max_epochs = epochs if epochs is not None else training["max_epochs"]
    if not max_epochs or max_epochs < 1:
        raise ValueError("set a number of epochs: --epochs N or [training] max_epochs")
    fix_random_seed(seed)

    last_dir, best_dir = output_dir / "model-last", output_dir / "model-best"
    if resume:
        restore_interrupted_save(last_dir)
        restore_interrupted_save(best_dir)
        if not last_dir.exists():
            raise FileNotFoundError(f"--resume: no pipeline to resume at {last_dir}")
        nlp = spacy.load(last_dir)
        state = nlp.meta.get(STATE_KEY, {})
        start_epoch, best_score = state.get("epoch", 0), state.get("best_score", -1.0)
        run_start -= state.get("train_seconds", 0.0)
    else:
        nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
        start_epoch, best_score = 0, -1.0

    train_docs = read_docs(train_path, nlp.vocab)
    dev_docs = read_docs(dev_path, nlp.vocab) if dev_path else train_docs
    # The converted corpora, as `spacy train` would read them.
    write_docbin(train_docs, output_dir / "corpus" / "train.spacy")
    write_docbin(dev_docs, output_dir / "corpus" / "dev.spacy")
    train_examples = gold_examples(train_docs, nlp.vocab)
    dev_examples = gold_examples(dev_docs, nlp.vocab)
    log(f"train: {len(train_examples)} sentences, dev: {len(dev_examples)} sentences")

    resolved = registry.resolve(
        {"optimizer": training["optimizer"], "batcher": training["batcher"]}
    )
    optimizer, batcher = resolved["optimizer"], resolved["batcher"]
    if not resume:
        nlp.initialize(lambda: train_examples, sgd=optimizer)

    curves = TrainingCurves(output_dir, start_epoch)
    log(f"{'epoch':>5} {'loss':>10} {'dev acc':>8} {'words/s':>8}")
    for epoch in range(start_epoch + 1, max_epochs + 1):
        # A generator of its own per epoch: the same seed gives the same order,
        # also when resuming.
        order = list(train_examples)
        random.Random(seed * 1000003 + epoch).shuffle(order)
        losses: Dict[str, float] = {}
        start = time.perf_counter()
        for batch in batcher(order):
            nlp.update(batch, drop=training["dropout"], sgd=optimizer, losses=losses)
            optimizer.step_schedules()  # as spacy train does: learn-rate schedules advance
        n_words = sum(len(eg.predicted) for eg in order)
        speed = n_words / (time.perf_counter() - start)
        # Evaluated and saved with the averaged weights when the optimizer keeps them.
        with nlp.use_params(optimizer.averages or {}):
            # tag_prob calibrated on dev: saved with the pipeline, and logged.
            calibration = fit_pipeline_temperatures(nlp, dev_examples)
            scores = nlp.evaluate(dev_examples)
            train_seconds = time.perf_counter() - run_start
            score = _weighted_score(scores, training.get("score_weights") or {"tag_acc": 1.0})
            loss = sum(losses.values())
            extra = f" pos {scores['pos_acc']:.4f}" if scores.get("pos_acc") is not None else ""
            extra += "".join(f" temperature {c['temperature']:.3f}" for c in calibration.values())
            log(f"{epoch:>5} {loss:>10.4f} {scores['tag_acc']:>8.4f} {speed:>8.0f}{extra}")
            curves.add(epoch=epoch, loss=loss, tag_acc=scores["tag_acc"],
                       pos_acc=scores.get("pos_acc"), seconds=round(train_seconds, 1),
                       calibration=calibration)
            if score > best_score:
                best_score = score
                nlp.meta[STATE_KEY] = _state(epoch, best_score, train_seconds)
                nlp.meta["performance"] = scores
                save_atomically(nlp, best_dir)
            nlp.meta[STATE_KEY] = _state(epoch, best_score, train_seconds)
            save_atomically(nlp, last_dir)
        if max_minutes is not None and train_seconds >= 60 * max_minutes:
            log(f"stopping: {train_seconds / 60:.1f} minutes reached the {max_minutes} limit")
            break
    curves.plot(log)
    log(f"best dev score {best_score:.4f}; saved {best_dir} and {last_dir}")
    return best_dir


def _state(epoch: int, best_score: float, train_seconds: float) -> Dict[str, float]:
    """What --resume needs, and the wall time so far, which the benchmark reports."""
    return {"epoch": epoch, "best_score": best_score, "train_seconds": round(train_seconds, 1)}


def _weighted_score(scores: Dict[str, float], weights: Dict[str, Optional[float]]) -> float:
    return sum((scores.get(k) or 0.0) * (w or 0.0) for k, w in weights.items())


def show_tags(nlp: Language, words: List[str], log=print) -> None:
    """Tag one pre-tokenized sentence and print word/TAG pairs."""
    doc = nlp(spacy.tokens.Doc(nlp.vocab, words=words))
    log(" ".join(f"{t.text}/{t.tag_}" for t in doc))


def default_path(path: Path, what: str) -> Path:
    if not path.exists():
        sys.exit(
            f"{what} not found at {path} (it ships with the package: is the "
            "installation complete?); pass the path explicitly"
        )
    return path
