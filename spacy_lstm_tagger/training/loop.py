"""The project's own training loop: a config as `spacy train` reads it, corpora
from memory (corpora.py), and pipelines saved so that an interrupted run always
leaves the last good model behind (checkpoints.py).
"""
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import spacy
from spacy import util
from spacy.language import Language
from spacy.training import Example
from spacy.util import registry
from thinc.api import Optimizer, fix_random_seed

from ..data.corpus import gold_examples
from ..types import PathLike
from .checkpoints import restore_interrupted_save, save_atomically
from .config_file import read_config
from .corpora import DEV_KEY, Corpora
from .curves import TrainingCurves
from .options import TrainingOptions
from .temperatures import fit_pipeline_temperatures

STATE_KEY = "lstm_tagger_training"  # in meta.json of the saved pipelines
# meta.json keeps a score to 10 decimals: a dev score must beat the best by more
# than this to count as better, so that a resumed run, which reads the best
# score back, chooses model-best as the run that went on would have.
IMPROVEMENT = 1e-9


@dataclass
class RunState:
    """Where a run stands: what --resume reads back from model-last's meta."""

    epoch: int = 0
    best_score: float = -1.0
    train_seconds: float = 0.0
    best_epoch: int = 0  # the epoch model-best is from

    def to_meta(self) -> Dict[str, float]:
        return {
            "epoch": self.epoch, "best_score": self.best_score,
            "train_seconds": round(self.train_seconds, 1), "best_epoch": self.best_epoch,
        }


def train(config_path: PathLike, output_dir: PathLike, corpora: Corpora, options: TrainingOptions) -> Path:
    """Train an `lstm_tagger` pipeline; write model-last after each epoch and
    model-best whenever the dev score improves. RETURNS (Path): model-best.

    config_path: a spaCy config; its [training] seed, dropout, max_epochs,
        optimizer, batcher and score_weights are used.
    """
    log = options.log
    run_start = time.perf_counter()
    output_dir = Path(output_dir)
    overrides = dict(options.overrides)
    if options.seed is not None:
        overrides["system.seed"] = options.seed
    config = read_config(config_path, overrides).interpolate()
    training = config["training"]
    max_epochs = options.epochs if options.epochs is not None else training["max_epochs"]
    if not max_epochs or max_epochs < 1:
        raise ValueError("set a number of epochs: --epochs N or [training] max_epochs")
    fix_random_seed(training["seed"])
    nlp, state = _start(config, output_dir, options.resume)
    run_start -= state.train_seconds
    nlp.meta.update(options.meta)

    train_examples = gold_examples(corpora.train, nlp.vocab)
    dev_examples = gold_examples(corpora.dev, nlp.vocab)
    log(f"train: {len(train_examples)} sentences, dev: {len(dev_examples)} sentences")
    if corpora.held_out is not None:
        nlp.meta[DEV_KEY] = corpora.held_out
        log(f"dev: {corpora.dev_source}")
    elif corpora.dev_is_train:
        log(f"dev: {corpora.dev_source}: model-best is chosen and tag_prob calibrated on training data")
    # Without gold tags in dev there is nothing to score: every epoch is kept.
    dev_scored = any(t.tag_ for eg in dev_examples for t in eg.reference)
    if not dev_scored:
        log(
            f"the dev corpus {corpora.dev_source} has no tagged sentences: no dev "
            "accuracy, and model-best is the last epoch's model"
        )
    resolved = registry.resolve({"optimizer": training["optimizer"], "batcher": training["batcher"]})
    optimizer, batcher = resolved["optimizer"], resolved["batcher"]
    if not options.resume:
        nlp.initialize(lambda: train_examples, sgd=optimizer)

    curves = TrainingCurves(output_dir, state.epoch)
    weights = training.get("score_weights") or {"tag_acc": 1.0}
    # Every column named: dev acc is token.tag_ accuracy, dev pos token.pos_
    # accuracy ("-" without UPOS or dev tags), temperature the tag_prob one
    # fitted on dev.
    log(f"{'epoch':>5} {'loss':>10} {'dev acc':>8} {'dev pos':>8} {'words/s':>8} {'temperature':>11}")
    for epoch in range(state.epoch + 1, max_epochs + 1):
        start = time.perf_counter()
        loss = _train_epoch(nlp, train_examples, batcher, optimizer, training, epoch)
        speed = sum(len(eg.predicted) for eg in train_examples) / (time.perf_counter() - start)
        # Evaluated and saved with the averaged weights when the optimizer keeps them.
        with nlp.use_params(optimizer.averages or {}):
            # tag_prob calibrated on dev: saved with the pipeline, and logged.
            calibration = fit_pipeline_temperatures(nlp, dev_examples) if dev_scored else {}
            scores = nlp.evaluate(dev_examples) if dev_scored else {}
            state.epoch, state.train_seconds = epoch, time.perf_counter() - run_start
            score = _weighted_score(scores, weights)
            temperatures = "/".join(f"{c['temperature']:.3f}" for c in calibration.values()) or "-"
            log(
                f"{epoch:>5} {loss:>10.4f} {_fmt_score(scores.get('tag_acc')):>8} "
                f"{_fmt_score(scores.get('pos_acc')):>8} {speed:>8.0f} {temperatures:>11}"
            )
            curves.add(epoch=epoch, loss=loss, tag_acc=scores.get("tag_acc"),
                       pos_acc=scores.get("pos_acc"), seconds=round(state.train_seconds, 1),
                       calibration=calibration)
            if score > state.best_score + IMPROVEMENT or not dev_scored:
                state.best_score, state.best_epoch = score, epoch
                nlp.meta[STATE_KEY] = state.to_meta()
                nlp.meta["performance"] = scores
                save_atomically(nlp, output_dir / "model-best")
            nlp.meta[STATE_KEY] = state.to_meta()
            save_atomically(nlp, output_dir / "model-last")
        if options.max_minutes is not None and state.train_seconds >= 60 * options.max_minutes:
            log(f"stopping: {state.train_seconds / 60:.1f} minutes reached the {options.max_minutes} limit")
            break
    curves.plot(log)
    if dev_scored:
        log(
            f"best dev score {_fmt_score(state.best_score)} ({_describe_weights(weights)} on dev) "
            f"at epoch {state.best_epoch}: saved as {output_dir / 'model-best'}; "
            f"the last epoch's as {output_dir / 'model-last'}"
        )
    else:
        log(
            f"no dev score (dev has no tags): {output_dir / 'model-best'} and "
            f"{output_dir / 'model-last'} are both the last epoch's ({state.best_epoch})"
        )
    return output_dir / "model-best"


def _start(config, output_dir: Path, resume: bool):
    """A new pipeline from the config, or with `resume` model-last and where its run stood."""
    if not resume:
        return util.load_model_from_config(config, auto_fill=True, validate=True), RunState()
    last_dir = output_dir / "model-last"
    restore_interrupted_save(last_dir)
    restore_interrupted_save(output_dir / "model-best")
    if not last_dir.exists():
        raise FileNotFoundError(f"--resume: no pipeline to resume at {last_dir}")
    nlp = spacy.load(last_dir)
    saved = nlp.meta.get(STATE_KEY, {})
    state = RunState(
        saved.get("epoch", 0), saved.get("best_score", -1.0), saved.get("train_seconds", 0.0),
        saved.get("best_epoch", 0),
    )
    return nlp, state


def _train_epoch(
    nlp: Language, examples: List[Example], batcher, optimizer: Optimizer, training: dict, epoch: int
) -> float:
    """One pass over the examples in a seeded order; RETURNS the summed loss."""
    # A generator of its own per epoch: the same seed gives the same order,
    # also when resuming.
    order = list(examples)
    random.Random(training["seed"] * 1000003 + epoch).shuffle(order)
    losses: Dict[str, float] = {}
    for batch in batcher(order):
        nlp.update(batch, drop=training["dropout"], sgd=optimizer, losses=losses)
        optimizer.step_schedules()  # as spacy train does: learn-rate schedules advance
    return sum(losses.values())


def _fmt_score(score: Optional[float]) -> str:
    return "-" if score is None else f"{score:.4f}"


def _describe_weights(weights: Dict[str, Optional[float]]) -> str:
    """The score model-best is chosen by: "tag_acc", or "0.5 tag_acc + 0.5 pos_acc"."""
    used = {k: w for k, w in weights.items() if w}
    if len(used) == 1 and list(used.values())[0] == 1:
        return next(iter(used))
    return " + ".join(f"{w:g} {k}" for k, w in used.items()) or "no score weights"


def _weighted_score(scores: Dict[str, float], weights: Dict[str, Optional[float]]) -> float:
    # A weight of None (spaCy's for a score of many values, morph_per_feat) counts nothing.
    return sum((scores.get(k) or 0.0) * w for k, w in weights.items() if w is not None)


def show_tags(nlp: Language, text: str, log=print) -> None:
    """Tag a text with the whole pipeline, tokenizer included; print word/TAG pairs."""
    doc = nlp(text)
    log(" ".join(f"{t.text}/{t.tag_}" for t in doc))
