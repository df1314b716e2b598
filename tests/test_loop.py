"""The training loop on the toy corpus in memory: what it logs, what it saves
where, and --resume; checked against the saved pipelines and the training log
(a dev accuracy logged is the saved model's, counted here)."""
import re
import shutil
import time

import pytest
import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab
from thinc.api import Config, ConfigValidationError

from spacy_lstm_tagger.configs import CONFIG_DIR
from spacy_lstm_tagger.training.config_file import read_config
from spacy_lstm_tagger.training.corpora import DEV_KEY, Corpora
from spacy_lstm_tagger.training.loop import (
    STATE_KEY,
    RunState,
    _describe_weights,
    _fmt_score,
    _start,
    _train_epoch,
    _weighted_score,
    show_tags,
    train,
)
from spacy_lstm_tagger.training.options import TrainingOptions

from helpers import SMALL_MODEL, TOY_DATA

TOY_CONFIG = CONFIG_DIR / "toy.cfg"
HEADER = "epoch       loss  dev acc  dev pos  words/s temperature"
# epoch, loss, dev acc, dev pos, words/s, temperature: 5, 10, 8, 8, 8, 11 wide
EPOCH_ROW = re.compile(r"([ \d]{5}) ([ \d.]{10}) ([ \d.-]{8}) ([ \d.-]{8}) ([ \d]{8}) ([ \d.-]{11})")


def test_fmt_score():
    assert _fmt_score(None) == "-"
    assert _fmt_score(0.123456) == "0.1235"
    assert _fmt_score(1) == "1.0000"


def test_describe_weights():
    assert _describe_weights({"tag_acc": 1.0}) == "tag_acc"
    assert _describe_weights({"tag_acc": 1.0, "pos_acc": 0.0, "morph_per_feat": None}) == "tag_acc"
    assert _describe_weights({"tag_acc": 0.5, "pos_acc": 0.5}) == "0.5 tag_acc + 0.5 pos_acc"
    assert _describe_weights({"tag_acc": 2.0}) == "2 tag_acc"
    assert _describe_weights({"pos_acc": 0.0}) == "no score weights"
    assert _describe_weights({}) == "no score weights"


def test_weighted_score():
    scores = {"tag_acc": 0.8, "pos_acc": 0.6, "morph_per_feat": {"Number": {"f": 0.5}}, "lemma_acc": None}
    weights = {"tag_acc": 0.5, "pos_acc": 0.25, "morph_per_feat": None, "lemma_acc": 1.0, "morph_acc": 2.0}
    # 0.5 * 0.8 + 0.25 * 0.6; a weight of None counts nothing, a missing or None score 0
    assert _weighted_score(scores, weights) == pytest.approx(0.55)
    assert _weighted_score({}, {"tag_acc": 1.0}) == 0.0


def test_run_state_to_meta():
    assert RunState().to_meta() == {"epoch": 0, "best_score": -1.0, "train_seconds": 0.0, "best_epoch": 0}
    assert RunState(3, 0.75, 12.3456, 2).to_meta() == {
        "epoch": 3, "best_score": 0.75, "train_seconds": 12.3, "best_epoch": 2,
    }


class FakeNlp:
    def __init__(self):
        self.updates = []

    def update(self, batch, drop, sgd, losses):
        self.updates.append((list(batch), drop, sgd))
        losses["lstm_tagger"] = losses.get("lstm_tagger", 0.0) + len(batch)
        losses["other"] = losses.get("other", 0.0) + 0.5


class FakeOptimizer:
    steps = 0

    def step_schedules(self):
        self.steps += 1


def epoch_order(seed, epoch, examples=tuple(range(10))):
    nlp, optimizer = FakeNlp(), FakeOptimizer()
    loss = _train_epoch(nlp, list(examples), lambda items: [items[:4], items[4:8], items[8:]],
                        optimizer, {"seed": seed, "dropout": 0.25}, epoch)
    assert loss == 10 + 3 * 0.5  # each example once, and 0.5 a batch
    assert optimizer.steps == 3  # a learn-rate step per batch
    assert [(drop, sgd) for _, drop, sgd in nlp.updates] == [(0.25, optimizer)] * 3
    return [x for batch, _, _ in nlp.updates for x in batch]


def test_train_epoch_order_is_seeded_and_shuffled():
    order = epoch_order(0, 1)
    assert sorted(order) == list(range(10))
    assert order == epoch_order(0, 1)  # the same seed and epoch: the same order, also when resuming
    # another epoch or another seed: another order (seed 0 is the configs' default)
    # nor does a run with the next seed replay this one's orders an epoch later
    orders = {tuple(epoch_order(seed, epoch)) for seed in (0, 1, 2) for epoch in (1, 2, 3)}
    assert len(orders) == 9
    examples = list(range(10))
    epoch_order(0, 1, examples)
    assert examples == list(range(10))  # the caller's list is left as it was


@Language.component("fixed_tags_for_loop_tests")
def fixed_tags(doc):
    for token in doc:
        token.tag_ = "X" if token.i % 2 else "Y"
    return doc


def test_show_tags():
    nlp = spacy.blank("en")
    nlp.add_pipe("fixed_tags_for_loop_tests")
    lines = []
    show_tags(nlp, "The dog barked.", log=lines.append)
    assert lines == ["The/Y dog/X barked/Y ./X"]


UPOS = {"DET": "DET", "NN": "NOUN", "V": "VERB"}


def toy_docs(tags=True, pos=False):
    vocab = Vocab()
    return [
        Doc(vocab, words=words, tags=tags_ if tags else None, pos=[UPOS[t] for t in tags_] if pos else None)
        for words, tags_ in TOY_DATA
    ]


def saved_pipeline(path, meta=None):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": SMALL_MODEL})
    docs = toy_docs()
    from spacy.training import Example
    nlp.initialize(lambda: [Example(Doc(nlp.vocab, words=[t.text for t in d]), d) for d in docs])
    nlp.meta.update(meta or {})
    nlp.to_disk(path)


def test_start_afresh_or_from_model_last(tmp_path):
    config = read_config(TOY_CONFIG).interpolate()
    nlp, state = _start(config, tmp_path, False)
    assert nlp.pipe_names == ["lstm_tagger"] and state == RunState()
    with pytest.raises(FileNotFoundError) as error:
        _start(config, tmp_path, True)
    assert str(error.value) == f"--resume: no pipeline to resume at {tmp_path / 'model-last'}"
    # a crash between save_atomically's renames left model-last aside as .model-last.old
    state_meta = {"epoch": 3, "best_score": 0.5, "train_seconds": 10.0, "best_epoch": 2}
    saved_pipeline(tmp_path / ".model-last.old", {STATE_KEY: state_meta})
    (tmp_path / ".model-best.tmp").mkdir()  # half-written
    nlp, state = _start(config, tmp_path, True)
    assert state == RunState(3, 0.5, 10.0, 2)
    assert nlp.pipe_names == ["lstm_tagger"] and nlp.get_pipe("lstm_tagger").labels == ("DET", "NN", "V")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-last"]
    # a pipeline without the loop's state (not saved by it): from the start
    shutil.rmtree(tmp_path / "model-last")
    saved_pipeline(tmp_path / "model-last")
    assert _start(config, tmp_path, True)[1] == RunState()


def test_start_fills_in_and_validates_the_config(tmp_path):
    text = TOY_CONFIG.read_text()
    assert "batch_size = 128\n" in text
    config = tmp_path / "toy.cfg"
    config.write_text(text.replace("batch_size = 128\n", "", 1))
    nlp, _ = _start(read_config(config).interpolate(), tmp_path, False)
    assert nlp.batch_size == 1000  # spaCy's default, filled in
    config.write_text(text.replace("batch_size = 128\n", 'batch_size = "many"\n', 1))
    with pytest.raises(ConfigValidationError) as error:
        _start(read_config(config).interpolate(), tmp_path, False)
    assert "batch_size" in str(error.value)


def test_train_refuses_no_epochs(tmp_path):
    docs = toy_docs()
    for epochs, overrides in ((0, {}), (-1, {}), (None, {"training.max_epochs": 0})):
        options = TrainingOptions(epochs=epochs, overrides=overrides, log=lambda line: None)
        with pytest.raises(ValueError) as error:
            train(TOY_CONFIG, tmp_path, Corpora(docs, docs, "train"), options)
        assert str(error.value) == "set a number of epochs: --epochs N or [training] max_epochs"
    assert not (tmp_path / "model-last").exists()


def epoch_rows(lines):
    """(epoch, loss, dev acc, dev pos, temperature) of each epoch line, as logged."""
    rows = []
    for line in lines:
        match = EPOCH_ROW.fullmatch(line)
        if match:
            epoch, loss, acc, pos, _, temperature = (field.strip() for field in match.groups())
            rows.append((int(epoch), loss, acc, pos, temperature))
    return rows


def meta(path):
    return srsly.read_json(path / "meta.json")


def dev_accuracy(pipeline, docs):
    """Counted here: the saved pipeline's tags against the gold."""
    nlp = spacy.load(pipeline)
    pairs = [(g.tag_, t.tag_) for doc in docs for g, t in zip(doc, nlp(Doc(nlp.vocab, words=[x.text for x in doc])))]
    return sum(g == p for g, p in pairs) / len(pairs)


def test_train_logs_saves_and_resumes(tmp_path):
    docs = toy_docs()
    lines = []
    options = TrainingOptions(epochs=2, seed=0, meta={"note": "toy"}, log=lines.append)
    best = train(TOY_CONFIG, tmp_path, Corpora(docs, docs, "the training corpus"), options)
    assert best == tmp_path / "model-best"
    assert lines[:3] == [
        "train: 2 sentences, dev: 2 sentences",
        "dev: the training corpus: model-best is chosen and tag_prob calibrated on training data",
        HEADER,
    ]
    rows = epoch_rows(lines)
    assert [r[0] for r in rows] == [1, 2] and lines[3:5] == [l for l in lines if EPOCH_ROW.fullmatch(l)]
    assert all(pos == "-" for _, _, _, pos, _ in rows)  # no UPOS in the corpus
    # the training log holds the same numbers
    logged = srsly.read_json(tmp_path / "training-log.json")["epochs"]
    assert [(r["epoch"], f"{r['loss']:.4f}", f"{r['tag_acc']:.4f}", r["pos_acc"]) for r in logged] == [
        (epoch, loss, acc, None) for epoch, loss, acc, _, _ in rows
    ]
    assert [f"{r['calibration']['lstm_tagger']['temperature']:.3f}" for r in logged] == [r[4] for r in rows]
    assert [r["seconds"] for r in logged] == sorted(r["seconds"] for r in logged)
    # model-last is the second epoch's; model-best the first epoch with the best dev accuracy
    accs = [float(acc) for _, _, acc, _, _ in rows]
    best_epoch = accs.index(max(accs)) + 1
    last = tmp_path / "model-last"
    assert f"{dev_accuracy(last, docs):.4f}" == rows[1][2]
    assert f"{dev_accuracy(best, docs):.4f}" == rows[best_epoch - 1][2]
    assert f"{spacy.load(last).get_pipe('lstm_tagger').cfg['tag_temperature']:.3f}" == rows[1][4]
    assert f"{spacy.load(best).get_pipe('lstm_tagger').cfg['tag_temperature']:.3f}" == rows[best_epoch - 1][4]
    state = meta(last)[STATE_KEY]
    assert (state["epoch"], state["best_epoch"], f"{state['best_score']:.4f}") == (2, best_epoch, f"{max(accs):.4f}")
    assert state["train_seconds"] == logged[-1]["seconds"]
    assert meta(best)[STATE_KEY]["epoch"] == best_epoch
    assert f"{meta(best)['performance']['tag_acc']:.4f}" == f"{max(accs):.4f}"
    assert meta(last)["note"] == meta(best)["note"] == "toy"
    assert lines[-1] == (
        f"best dev score {max(accs):.4f} (tag_acc on dev) at epoch {best_epoch}: saved as "
        f"{tmp_path / 'model-best'}; the last epoch's as {tmp_path / 'model-last'}"
    )
    assert (tmp_path / "training-curves.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model-best", "model-last", "training-curves.png", "training-log.json",
    ]

    # --resume: on from epoch 3, the first two epochs' rows kept
    resumed = []
    started = time.perf_counter()
    train(TOY_CONFIG, tmp_path, Corpora(docs, docs, "the training corpus"),
          options.with_changes(epochs=3, resume=True, log=resumed.append))
    took = time.perf_counter() - started
    assert resumed[:3] == lines[:3]
    rows3 = epoch_rows(resumed)
    assert [r[0] for r in rows3] == [3]
    accs.append(float(rows3[0][2]))
    best_epoch = accs.index(max(accs)) + 1
    logged3 = srsly.read_json(tmp_path / "training-log.json")["epochs"]
    assert logged3[:2] == logged and logged3[2]["epoch"] == 3
    assert f"{dev_accuracy(last, docs):.4f}" == rows3[0][2]
    state3 = meta(last)[STATE_KEY]
    assert (state3["epoch"], state3["best_epoch"]) == (3, best_epoch)
    # the time before the resume counts, and the resumed run adds no more than it took
    assert state["train_seconds"] <= state3["train_seconds"] <= state["train_seconds"] + took + 0.1
    assert meta(tmp_path / "model-best")[STATE_KEY]["epoch"] == best_epoch
    assert resumed[-1].startswith(f"best dev score {max(accs):.4f} (tag_acc on dev) at epoch {best_epoch}: ")


def test_train_without_dev_tags_keeps_the_last_epoch(tmp_path):
    lines = []
    dev = toy_docs(tags=False)[:1]
    train(TOY_CONFIG, tmp_path, Corpora(toy_docs(), dev, "dev.conllu"),
          TrainingOptions(epochs=2, log=lines.append))
    assert lines[:3] == [
        "train: 2 sentences, dev: 1 sentences",
        "the dev corpus dev.conllu has no tagged sentences: no dev accuracy, and model-best is the "
        "last epoch's model",
        HEADER,
    ]
    rows = epoch_rows(lines)
    assert [(epoch, acc, pos, temperature) for epoch, _, acc, pos, temperature in rows] == [
        (1, "-", "-", "-"), (2, "-", "-", "-"),
    ]
    for name in ("model-best", "model-last"):
        assert meta(tmp_path / name)[STATE_KEY]["epoch"] == 2
        assert meta(tmp_path / name)[STATE_KEY]["best_epoch"] == 2
    assert meta(tmp_path / "model-best")["performance"] == {}
    assert lines[-1] == (
        f"no dev score (dev has no tags): {tmp_path / 'model-best'} and {tmp_path / 'model-last'} "
        "are both the last epoch's (2)"
    )


def test_train_held_out_dev_seed_upos_weights_and_time_limit(tmp_path):
    lines = []
    docs = toy_docs(pos=True)
    held_out = {"held_out_from": "train.conllu", "sentences": 1, "seed": 0, "share": 0.1}
    overrides = {
        "training.max_epochs": 1, "components.lstm_tagger.predict_pos": True,
        "training.score_weights.tag_acc": 0.5, "training.score_weights.pos_acc": 0.5,
    }
    options = TrainingOptions(seed=5, max_minutes=0, overrides=overrides, log=lines.append)
    train(TOY_CONFIG, tmp_path, Corpora(docs[:1], docs[1:], "1 sentence held out of train.conllu", held_out), options)
    assert lines[:3] == [
        "train: 1 sentences, dev: 1 sentences",
        "dev: 1 sentence held out of train.conllu",
        HEADER,
    ]
    # one epoch is enough; a limit of 0 minutes is reached after it
    rows = epoch_rows(lines)
    assert [r[0] for r in rows] == [1]
    assert re.fullmatch(r"stopping: \d+\.\d minutes reached the 0 limit", lines[4])
    last = tmp_path / "model-last"
    logged = srsly.read_json(tmp_path / "training-log.json")["epochs"]
    tag_acc, pos_acc = logged[0]["tag_acc"], logged[0]["pos_acc"]
    assert (f"{tag_acc:.4f}", f"{pos_acc:.4f}") == (rows[0][2], rows[0][3])
    assert meta(last)[STATE_KEY]["best_score"] == pytest.approx(0.5 * tag_acc + 0.5 * pos_acc)
    assert lines[-1].startswith(
        f"best dev score {0.5 * tag_acc + 0.5 * pos_acc:.4f} (0.5 tag_acc + 0.5 pos_acc on dev) at epoch 1: "
    )
    assert meta(last)[DEV_KEY] == held_out
    config = Config().from_disk(last / "config.cfg")
    assert config["system"]["seed"] == 5 and config["training"]["max_epochs"] == 1


class FakeClock:
    """time.perf_counter for the loop: 100 at the run's start, then for each
    epoch: its start (+100), after training (+0.5) and for the run's time (+199.5)."""

    def __init__(self):
        self.readings = 0
        self.now = 0.0

    def perf_counter(self):
        self.now += 100.0 if self.readings < 2 else (100.0, 0.5, 199.5)[(self.readings - 1) % 3]
        self.readings += 1
        return self.now


def on_a_fake_clock(*args):
    from spacy_lstm_tagger.training import loop

    real_time, loop.time = loop.time, FakeClock()
    try:
        train(*args)
    finally:
        loop.time = real_time


def test_train_time_limit_and_speed_on_a_fake_clock(tmp_path):
    # a config without score weights: model-best by tag_acc
    weighted = "[training.score_weights]\ntag_acc = 1.0\n"
    assert weighted in TOY_CONFIG.read_text()
    config = tmp_path / "toy.cfg"
    config.write_text(TOY_CONFIG.read_text().replace(weighted, ""))
    output = tmp_path / "out"
    lines = []
    on_a_fake_clock(config, output, Corpora(toy_docs(), toy_docs(), "train"),
                    TrainingOptions(epochs=3, max_minutes=10, log=lines.append))
    # run start 100; the first epoch starts at 200, trains until 200.5 (9 words in
    # 0.5 s: 18 words/s) and ends at 400 (300 s); the second at 700 (600 s): the
    # 10-minute limit
    speeds = [EPOCH_ROW.fullmatch(line).group(5) for line in lines if EPOCH_ROW.fullmatch(line)]
    assert speeds == ["      18", "      18"]
    assert lines[-2] == "stopping: 10.0 minutes reached the 10 limit"
    logged = srsly.read_json(output / "training-log.json")["epochs"]
    assert [row["seconds"] for row in logged] == [300.0, 600.0]
    assert meta(output / "model-last")[STATE_KEY]["train_seconds"] == 600.0
    state = meta(output / "model-last")[STATE_KEY]
    assert lines[-1].startswith(
        f"best dev score {state['best_score']:.4f} (tag_acc on dev) at epoch {state['best_epoch']}: "
    )
    assert state["best_score"] == pytest.approx(logged[state["best_epoch"] - 1]["tag_acc"])
    assert (output / "training-curves.png").exists()
    # resumed, on a clock that starts again: 600 s before it, 300 s for the third epoch
    on_a_fake_clock(config, output, Corpora(toy_docs(), toy_docs(), "train"),
                    TrainingOptions(epochs=3, resume=True, log=lines.append))
    logged = srsly.read_json(output / "training-log.json")["epochs"]
    assert [row["seconds"] for row in logged] == [300.0, 600.0, 900.0]


def network_weights(nlp):
    """name -> numpy array of the lstm_tagger's network weights."""
    shim = nlp.get_pipe("lstm_tagger").model.shims[0]
    return shim, {name: param.detach().cpu().numpy().copy() for name, param in shim.network.named_parameters()}


def test_train_evaluates_and_saves_the_averaged_weights(tmp_path, monkeypatch):
    # With use_averages the optimizer keeps a running average of each weight;
    # dev accuracy, model-best and model-last are the averaged weights', as in
    # spacy train, while training goes on with the raw ones.
    import numpy
    from spacy_lstm_tagger.training import loop

    seen = []  # after each epoch: (the pipeline, the optimizer, its averages, the raw weights)
    real_train_epoch = loop._train_epoch

    def train_epoch(nlp, examples, batcher, optimizer, training, epoch):
        loss = real_train_epoch(nlp, examples, batcher, optimizer, training, epoch)
        shim, raw = network_weights(nlp)
        averages = {name: numpy.array(optimizer.averages[(shim.id, name)]) for name in raw}
        seen.append((nlp, optimizer, averages, raw))
        return loss

    monkeypatch.setattr(loop, "_train_epoch", train_epoch)
    docs = toy_docs()
    lines = []
    options = TrainingOptions(
        epochs=3, seed=0, overrides={"training.optimizer.use_averages": True}, log=lines.append
    )
    best = train(TOY_CONFIG, tmp_path, Corpora(docs, docs, "train"), options)
    assert len(seen) == 3 and seen[0][1].averages is not None
    accs = [float(acc) for _, _, acc, _, _ in epoch_rows(lines)]
    best_epoch = meta(tmp_path / "model-last")[STATE_KEY]["best_epoch"]
    for path, epoch in ((tmp_path / "model-last", 3), (best, best_epoch)):
        _, averages, raw = seen[epoch - 1][1:]
        _, saved = network_weights(spacy.load(path))
        assert sorted(saved) == sorted(averages)
        # the averages differ from the raw weights after a few steps
        assert any(not numpy.array_equal(averages[name], raw[name]) for name in raw)
        for name in saved:
            assert numpy.array_equal(saved[name], averages[name]), name
        # the accuracy logged is the saved (averaged) pipeline's, counted here
        assert f"{dev_accuracy(path, docs):.4f}" == f"{accs[epoch - 1]:.4f}"
    # training goes on with the raw weights: they are back in the pipeline
    _, now = network_weights(seen[-1][0])
    for name, values in seen[-1][3].items():
        assert numpy.array_equal(now[name], values), name
