"""The project's train script: interrupted runs keep the last good pipeline,
--resume continues, and the same seed gives the same weights."""
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest
import spacy
import srsly
import torch
from spacy.language import Language
from thinc.api import Config

from spacy_lstm_tagger.corpus import TOY_CORPUS
from spacy_lstm_tagger.configs import CONFIG_DIR
from spacy_lstm_tagger.training import loop
from spacy_lstm_tagger.training.loop import STATE_KEY
from spacy_lstm_tagger.training.options import TrainingOptions
from spacy_lstm_tagger.training.runs import train_files

ROOT = Path(__file__).resolve().parent.parent
TOY_CONFIG = CONFIG_DIR / "toy.cfg"
SENTENCES = ["The dog ate the apple", "Everybody read that book", "Zyxx ate 東京 😀"]
EPOCH_LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+\S+", re.MULTILINE)


def cli_train(output, *args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "spacy_lstm_tagger", "train", "--output", str(output), "--show", "", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def epochs_logged(out):
    return [int(m.group(1)) for m in EPOCH_LINE.finditer(out)]


def saved_epoch(pipeline):
    return srsly.read_json(pipeline / "meta.json")[STATE_KEY]["epoch"]


def weights(pipeline):
    """The model file's tensors and index tables, decoded."""
    msg = srsly.msgpack_loads((pipeline / "lstm_tagger" / "model").read_bytes())
    return msg["tensors"], msg["tables"]


def predictions(pipeline):
    nlp = spacy.load(pipeline)
    docs = [nlp.make_doc(text) for text in SENTENCES]
    scores = nlp.get_pipe("lstm_tagger").predict(docs)
    return [[t.tag_ for t in doc] for doc in nlp.pipe(SENTENCES)], scores


def assert_loads(pipeline):
    nlp = spacy.load(pipeline)
    assert len([t.tag_ for t in nlp("Everybody read that book")]) == 4


def test_same_seed_gives_the_same_weights_and_predictions(tmp_path):
    # The toy config with dropout and word dropout on, so that their random
    # draws are covered too.
    config = Config().from_disk(TOY_CONFIG, interpolate=False)
    config["components"]["lstm_tagger"]["model"].update(dropout=0.2, word_dropout=0.2)
    config.to_disk(tmp_path / "toy-dropout.cfg")
    runs = {}
    for name, seed in [("a", 3), ("b", 3), ("c", 4)]:
        out = cli_train(tmp_path / name, "--config", str(tmp_path / "toy-dropout.cfg"),
                        "--epochs", "8", "--seed", str(seed))
        # epoch, loss and accuracy of every epoch (not the speed)
        runs[name] = [m.groups() for m in EPOCH_LINE.finditer(out)]
    assert len(runs["a"]) == 8 and runs["a"] == runs["b"] != runs["c"]
    for model in ("model-last", "model-best"):
        (tensors_a, tables_a), (tensors_b, tables_b) = (
            weights(tmp_path / name / model) for name in "ab"
        )
        assert tables_a == tables_b and sorted(tensors_a) == sorted(tensors_b)
        for name, array in tensors_a.items():
            assert array.dtype == tensors_b[name].dtype
            assert array.tobytes() == tensors_b[name].tobytes(), name
    tensors_c, _ = weights(tmp_path / "c" / "model-last")
    assert any(a.tobytes() != tensors_c[n].tobytes() for n, a in tensors_a.items())
    (tags_a, scores_a), (tags_b, scores_b) = (predictions(tmp_path / n / "model-last") for n in "ab")
    assert tags_a == tags_b
    assert all(numpy.array_equal(a, b) for a, b in zip(scores_a, scores_b))


def broken_to_disk(original):
    def to_disk(self, path, **kwargs):
        original(self, path, **kwargs)
        (Path(path) / "lstm_tagger" / "model").write_bytes(b"half-written")
        raise OSError("simulated: disk full")
    return to_disk


def broken_second_rename(original):
    def rename(self, target):
        if self.name.endswith(".tmp"):  # model-last has just been moved aside
            raise OSError("simulated: crash between the two renames")
        return original(self, target)
    return rename


@pytest.mark.parametrize("failure", ["to_disk", "second rename"])
def test_failed_save_keeps_the_last_good_pipeline_and_resume_continues(tmp_path, monkeypatch, failure):
    def run(epochs, resume):
        lines = []
        train_files(TOY_CONFIG, tmp_path, TOY_CORPUS, options=TrainingOptions(epochs=epochs, seed=0, resume=resume, log=lines.append))
        return epochs_logged("\n".join(lines))

    assert run(2, resume=False) == [1, 2]
    last = tmp_path / "model-last"
    good = (last / "lstm_tagger" / "model").read_bytes()
    if failure == "to_disk":
        monkeypatch.setattr(Language, "to_disk", broken_to_disk(Language.to_disk))
    else:
        monkeypatch.setattr(Path, "rename", broken_second_rename(Path.rename))
    with pytest.raises(OSError, match="simulated"):
        run(3, resume=True)
    monkeypatch.undo()
    if failure == "to_disk":
        assert saved_epoch(last) == 2 and (last / "lstm_tagger" / "model").read_bytes() == good
        assert_loads(last)
    else:
        # Between the renames of model-best or model-last: the last good
        # pipeline waits beside its place, and the next run puts it back.
        for name in ("model-best", "model-last"):
            path = tmp_path / name
            assert path.exists() != (tmp_path / f".{name}.old").exists()
        assert saved_epoch(last if last.exists() else tmp_path / ".model-last.old") == 2
    assert run(4, resume=True) == [3, 4]
    assert saved_epoch(last) == 4
    assert_loads(last)
    assert_loads(tmp_path / "model-best")
    assert not list(tmp_path.glob(".model-*"))


def test_killed_training_keeps_a_loadable_model_last_and_resumes(tmp_path):
    last, tmp = tmp_path / "model-last", tmp_path / ".model-last.tmp"
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacy_lstm_tagger", "train", "--output", str(tmp_path),
         "--epochs", "100000", "--show", ""],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        # Kill it while it writes a pipeline, once a few epochs have been saved.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if saved_epoch(last) >= 3 and tmp.exists():
                    break
            except (OSError, ValueError):  # not there yet, or being renamed
                pass
            time.sleep(0.001)
    finally:
        proc.kill()
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0, stderr  # killed, not finished or failed
    if last.exists():
        assert_loads(last)
        epoch = saved_epoch(last)
    else:  # killed between the two renames (rare): restored by --resume
        epoch = saved_epoch(tmp_path / ".model-last.old")
    out = cli_train(tmp_path, "--resume", "--epochs", str(epoch + 2))
    assert epochs_logged(out) == [epoch + 1, epoch + 2]
    assert saved_epoch(last) == epoch + 2
    assert_loads(last)


def test_resume_continues_from_the_saved_weights(tmp_path, monkeypatch):
    options = TrainingOptions(epochs=2, seed=0, log=lambda line: None)
    train_files(TOY_CONFIG, tmp_path, TOY_CORPUS, options=options)
    loaded = spacy.load(tmp_path / "model-last")
    saved = loaded.get_pipe("lstm_tagger")
    saved_state = saved.model.network.state_dict()
    saved_scores = saved.predict([loaded.make_doc(s) for s in SENTENCES])
    # What the resumed run's pipeline holds when its first epoch begins.
    at_start = []

    def first_epoch(nlp, *args, **kwargs):
        if not at_start:
            tagger = nlp.get_pipe("lstm_tagger")
            at_start.append((
                {k: v.clone() for k, v in tagger.model.network.state_dict().items()},
                tagger.predict([nlp.make_doc(s) for s in SENTENCES]),
            ))
        return train_epoch(nlp, *args, **kwargs)

    train_epoch = loop._train_epoch
    monkeypatch.setattr(loop, "_train_epoch", first_epoch)
    train_files(TOY_CONFIG, tmp_path, TOY_CORPUS, options=options.with_changes(epochs=3, resume=True))
    state, scores = at_start[0]
    assert state.keys() == saved_state.keys()
    for name, tensor in saved_state.items():
        assert torch.equal(state[name], tensor), name
    for ours, theirs in zip(scores, saved_scores):
        numpy.testing.assert_array_equal(ours, theirs)
    assert saved_epoch(tmp_path / "model-last") == 3
