"""Loading damaged, mismatched or malicious model files: a clear error that names
the component and the file, nothing half-loaded, and no code run from the file.
"""
import io
import pickle
import shutil

import pytest
import spacy
import srsly
import torch
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import fix_random_seed

import spacy_lstm_tagger  # noqa: F401  (registers the factory in this process)

TRAIN_DATA = [
    ("The dog ate the apple".split(), "DET NN V DET NN".split()),
    ("Everybody read that book".split(), "NN V DET NN".split()),
]
SMALL = {"word_width": 16, "char_width": 8, "char_features": 8, "hidden_width": 16}


def make_nlp(data=TRAIN_DATA, **sizes):
    """An initialized (untrained) pipeline with a small model."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": {**SMALL, **sizes}})
    examples = [
        Example(Doc(nlp.vocab, words=w), Doc(nlp.vocab, words=w, tags=t)) for w, t in data
    ]
    nlp.initialize(lambda: examples)
    return nlp


def scores(nlp, text="The dog ate the apple"):
    return nlp.get_pipe("lstm_tagger").predict([nlp.make_doc(text)])[0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "pipeline"
    make_nlp().to_disk(path)
    return path


@pytest.fixture
def copy(saved, tmp_path):
    """A copy of the saved pipeline, to damage."""
    path = tmp_path / "pipeline"
    shutil.copytree(saved, path)
    return path


def read_model(pipeline):
    """The model file's thinc message, with the shim's message and our weights
    blob decoded: (msg, shim_msg, weights)."""
    msg = srsly.msgpack_loads((pipeline / "lstm_tagger" / "model").read_bytes())
    shim_msg = srsly.msgpack_loads(msg["shims"][0][0])
    return msg, shim_msg, srsly.msgpack_loads(shim_msg["state"])


def write_model(pipeline, msg, shim_msg=None, weights=None):
    if weights is not None:
        shim_msg["state"] = srsly.msgpack_dumps(weights)
    if shim_msg is not None:
        msg["shims"][0][0] = srsly.msgpack_dumps(shim_msg)
    (pipeline / "lstm_tagger" / "model").write_bytes(srsly.msgpack_dumps(msg))


def assert_refused(pipeline, *phrases, error=ValueError, file="model"):
    with pytest.raises(error) as info:
        spacy.load(pipeline)
    message = str(info.value)
    assert "[lstm_tagger]" in message and str(pipeline / "lstm_tagger" / file) in message
    for phrase in phrases:
        assert phrase in message
    return message


def test_round_trip_checks_pass(saved):
    assert (scores(spacy.load(saved)) == scores(make_nlp())).all()


@pytest.mark.parametrize("keep", [0, 10, 0.5, -1])
def test_truncated_model_file(copy, keep):
    model = copy / "lstm_tagger" / "model"
    data = model.read_bytes()
    model.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    assert_refused(copy, "damaged")


def test_missing_model_file(copy):
    (copy / "lstm_tagger" / "model").unlink()
    assert_refused(copy, "the file is missing", error=FileNotFoundError)


def test_missing_cfg_file(copy):
    (copy / "lstm_tagger" / "cfg").unlink()
    assert_refused(copy, "the file is missing", error=FileNotFoundError, file="cfg")


def test_model_file_of_another_architecture_size(copy, tmp_path):
    make_nlp(hidden_width=8).to_disk(tmp_path / "other")
    shutil.copy(tmp_path / "other" / "lstm_tagger" / "model", copy / "lstm_tagger" / "model")
    assert_refused(copy, "another architecture size", "hidden_width=8 (config: 16)")


def test_config_asks_for_another_size(saved):
    with pytest.raises(ValueError, match=r"\[lstm_tagger\].*hidden_width=16 \(config: 32\)"):
        spacy.load(saved, config={"components": {"lstm_tagger": {"model": {"hidden_width": 32}}}})


def test_model_file_with_other_labels(copy, tmp_path):
    data = TRAIN_DATA + [("Big dogs".split(), "JJ NNS".split())]
    make_nlp(data=data).to_disk(tmp_path / "other")
    shutil.copy(tmp_path / "other" / "lstm_tagger" / "model", copy / "lstm_tagger" / "model")
    # The other file's tables are larger too; either way it must not load.
    assert_refused(copy)
    cfg = srsly.read_json(copy / "lstm_tagger" / "cfg")
    cfg["labels"].append("JJ")
    srsly.write_json(copy / "lstm_tagger" / "cfg", cfg)
    shutil.copy(tmp_path / "other" / "lstm_tagger" / "model", copy / "lstm_tagger" / "model")
    assert_refused(copy, "4 tags", "weights have 5 tag")


def test_missing_index_tables(copy):
    msg, _, _ = read_model(copy)
    del msg["attrs"][0]["tables"]
    write_model(copy, msg)
    assert_refused(copy, "index tables are missing")


def test_index_tables_that_do_not_fit_the_weights(copy):
    msg, _, _ = read_model(copy)
    tables = srsly.msgpack_loads(msg["attrs"][0]["tables"])
    tables["words"].append("extra")
    msg["attrs"][0]["tables"] = srsly.msgpack_dumps(tables)
    write_model(copy, msg)
    assert_refused(copy, "do not fit the weights")


@pytest.mark.parametrize(
    "damage, phrase",
    [
        pytest.param(lambda w: w["tensors"].pop("tag_head.bias"), "missing ['tag_head.bias']", id="tensor-missing"),
        pytest.param(lambda w: w["tensors"].update(extra=w["tensors"]["tag_head.bias"]), "unexpected ['extra']", id="tensor-unexpected"),
        pytest.param(lambda w: w["tensors"].update({"tag_head.bias": b"\x00" * 12}), "not a numeric array", id="tensor-bytes"),
        pytest.param(lambda w: w["tensors"].update({"tag_head.bias": w["tensors"]["char_cnn.bias"]}), "has shape", id="tensor-wrong-shape"),
        # Sizes that would need terabytes: refused before anything is allocated.
        pytest.param(lambda w: w["kwargs"].update(n_words=10**12), "has shape", id="huge-sizes"),
        pytest.param(lambda w: w["kwargs"].update(n_words="many"), "invalid network sizes", id="size-not-a-number"),
        pytest.param(lambda w: w["kwargs"].update(evil=1), "invalid network sizes", id="unknown-size"),
        pytest.param(lambda w: w.update(format="something-else/1"), "not an lstm_tagger weights blob", id="other-format"),
    ],
)
def test_damaged_weights_blob(copy, damage, phrase):
    msg, shim_msg, weights = read_model(copy)
    damage(weights)
    write_model(copy, msg, shim_msg, weights)
    assert_refused(copy, phrase)


def test_failed_load_leaves_the_component_as_it_was(copy, saved):
    nlp = make_nlp(data=TRAIN_DATA + [("Big dogs".split(), "JJ NNS".split())])
    tagger = nlp.get_pipe("lstm_tagger")
    cfg, model, before = dict(tagger.cfg), tagger.model, scores(nlp)
    # A valid cfg with other labels beside a truncated model file.
    model_file = copy / "lstm_tagger" / "model"
    model_file.write_bytes(model_file.read_bytes()[:-100])
    for load in (
        lambda: tagger.from_disk(copy / "lstm_tagger", exclude=["vocab"]),
        lambda: nlp.from_disk(copy),
        lambda: tagger.from_bytes(
            srsly.msgpack_dumps(
                {"cfg": (copy / "lstm_tagger" / "cfg").read_bytes(), "model": model_file.read_bytes()}
            )
        ),
    ):
        with pytest.raises(ValueError, match=r"\[lstm_tagger\] cannot load"):
            load()
        assert tagger.cfg == cfg and tagger.labels == ("DET", "JJ", "NN", "NNS", "V")
        assert tagger.model is model
        assert (scores(nlp) == before).all()
    # A good file is loaded into a new model, which is swapped in.
    tagger.from_disk(saved / "lstm_tagger", exclude=["vocab"])
    assert tagger.labels == ("DET", "NN", "V") and tagger.model is not model
    assert (scores(nlp) == scores(spacy.load(saved))).all()


def test_bytes_round_trip_and_damaged_bytes(saved):
    nlp = spacy.load(saved)
    data = nlp.to_bytes()
    fresh = spacy.blank("en")
    fresh.add_pipe("lstm_tagger", config={"model": SMALL})
    assert (scores(fresh.from_bytes(data)) == scores(nlp)).all()
    tagger = spacy.blank("en").add_pipe("lstm_tagger", config={"model": SMALL})
    with pytest.raises(ValueError, match=r"\[lstm_tagger\] cannot load the serialized component 'lstm_tagger'"):
        tagger.from_bytes(nlp.get_pipe("lstm_tagger").to_bytes()[:-50])
    with pytest.raises(ValueError, match="'model' entry is missing"):
        tagger.from_bytes(srsly.msgpack_dumps({"cfg": srsly.json_dumps(tagger.cfg)}))
    assert tagger.labels == () and tagger.model.shims[0].network is None


# Malicious files: a pickle that would create a marker file when unpickled.


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def payloads(tmp_path):
    """(marker, pickle bytes, torch.save bytes), shown to be live: loading
    them the unsafe way does create the marker."""
    marker = tmp_path / "code-was-run"
    raw = pickle.dumps({"tag_head.weight": Payload(marker)})
    buffer = io.BytesIO()
    torch.save({"tag_head.weight": Payload(marker)}, buffer)
    for unsafe_load in (lambda: pickle.loads(raw), lambda: torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)):
        unsafe_load()
        assert marker.exists()
        marker.unlink()
    return marker, raw, buffer.getvalue()


def plant_in_model_file(pipeline, payload):
    (pipeline / "lstm_tagger" / "model").write_bytes(payload)


def plant_as_shim_bytes(pipeline, payload):
    msg, _, _ = read_model(pipeline)
    msg["shims"][0][0] = payload
    write_model(pipeline, msg)


def plant_as_shim_state(pipeline, payload):
    # Where thinc's default PyTorchShim keeps a torch.save'd state dict.
    msg, shim_msg, _ = read_model(pipeline)
    shim_msg["state"] = payload
    write_model(pipeline, msg, shim_msg)


def plant_as_tensor(pipeline, payload):
    msg, shim_msg, weights = read_model(pipeline)
    weights["tensors"]["tag_head.weight"] = payload
    write_model(pipeline, msg, shim_msg, weights)


def plant_as_tables(pipeline, payload):
    msg, _, _ = read_model(pipeline)
    msg["attrs"][0]["tables"] = payload
    write_model(pipeline, msg)


@pytest.mark.parametrize(
    "plant",
    [plant_in_model_file, plant_as_shim_bytes, plant_as_shim_state, plant_as_tensor, plant_as_tables],
)
@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_pickled_payload_is_refused_and_never_run(copy, payloads, plant, kind):
    marker, raw, saved_by_torch = payloads
    plant(copy, raw if kind == "pickle" else saved_by_torch)
    assert_refused(copy)
    with pytest.raises(ValueError, match=r"\[lstm_tagger\] cannot load"):
        spacy.blank("en").add_pipe("lstm_tagger", config={"model": SMALL}).from_bytes(
            srsly.msgpack_dumps({"cfg": srsly.json_dumps({"labels": [], "pos_labels": []}),
                                 "model": (copy / "lstm_tagger" / "model").read_bytes()})
        )
    assert not marker.exists()


def test_pickled_cfg_is_refused_and_never_run(copy, payloads):
    marker, raw, _ = payloads
    (copy / "lstm_tagger" / "cfg").write_bytes(raw)
    assert_refused(copy, "damaged", file="cfg")
    assert not marker.exists()


def test_loading_never_unpickles(saved, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a model file must never be unpickled")

    for module, name in [(torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler")]:
        monkeypatch.setattr(module, name, forbidden)
    nlp = spacy.load(saved)
    assert len([t.tag_ for t in nlp("The dog ate the apple")]) == 5
    spacy.blank("en").add_pipe("lstm_tagger", config={"model": SMALL}).from_bytes(
        nlp.get_pipe("lstm_tagger").to_bytes()
    )
