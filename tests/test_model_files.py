"""Loading damaged, mismatched or malicious model files: a clear error that names
the component and the file, nothing half-loaded, and no code run from the file.
"""
import io
import json
import pickle
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy
import pytest
import spacy
import srsly
import torch
from spacy.tokens import Doc
from spacy.vocab import Vocab
from spacy.training import Example
from thinc.api import fix_random_seed

import spacy_lstm_tagger.pipeline.model
from spacy_lstm_tagger import LSTMTagger, ModelFileError, build_lstm_tagger
from spacy_lstm_tagger.pipeline.network import BiLSTMTagger

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


@pytest.fixture
def no_network_built(monkeypatch):
    """Fails the test if a network is built."""

    def never(*args, **kwargs):
        raise AssertionError("a network was built")

    monkeypatch.setattr(spacy_lstm_tagger.pipeline.model, "BiLSTMTagger", never)


def read_model(pipeline):
    """The model file, decoded: format, shape, tables (bytes) and tensors."""
    return srsly.msgpack_loads((pipeline / "lstm_tagger" / "model").read_bytes())


def write_model(pipeline, msg):
    (pipeline / "lstm_tagger" / "model").write_bytes(srsly.msgpack_dumps(msg))


def edit_cfg(pipeline, **entries):
    cfg = srsly.read_json(pipeline / "lstm_tagger" / "cfg")
    cfg.update(entries)
    srsly.write_json(pipeline / "lstm_tagger" / "cfg", cfg)


def assert_refused(pipeline, *phrases, error=ModelFileError, file="model"):
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
    edit_cfg(copy, labels=["DET", "JJ", "NN", "V"])
    shutil.copy(tmp_path / "other" / "lstm_tagger" / "model", copy / "lstm_tagger" / "model")
    assert_refused(copy, "4 tags", "weights have 5 tag")


def test_missing_index_tables(copy):
    msg = read_model(copy)
    del msg["tables"]
    write_model(copy, msg)
    assert_refused(copy, "index tables are missing")


def test_index_tables_that_do_not_fit_the_weights(copy):
    msg = read_model(copy)
    tables = srsly.msgpack_loads(msg["tables"])
    tables["words"].append("extra")
    msg["tables"] = srsly.msgpack_dumps(tables)
    write_model(copy, msg)
    assert_refused(copy, "do not fit the weights")


def set_weight(msg, name, where, value):
    array = msg["tensors"][name].copy()  # the decoded arrays are read-only
    array[where] = value
    msg["tensors"][name] = array


@pytest.mark.parametrize(
    "damage, phrase",
    [
        pytest.param(lambda w: w["tensors"].pop("tag_head.bias"), "missing ['tag_head.bias']", id="tensor-missing"),
        pytest.param(lambda w: w["tensors"].update(extra=w["tensors"]["tag_head.bias"]), "unexpected ['extra']", id="tensor-unexpected"),
        pytest.param(lambda w: w["tensors"].update({"tag_head.bias": b"\x00" * 12}), "not a numeric array", id="tensor-bytes"),
        pytest.param(lambda w: w["tensors"].update({"tag_head.bias": numpy.arange(3)}), "not a numeric array", id="tensor-of-ints"),
        pytest.param(lambda w: w["tensors"].update({"tag_head.bias": w["tensors"]["char_cnn.bias"]}), "has shape", id="tensor-wrong-shape"),
        pytest.param(lambda w: w["tensors"].update({"tag_head.bias": w["tensors"]["tag_head.bias"] * numpy.float32("nan")}), "'tag_head.bias' contains NaN or infinite", id="tensor-nan"),
        pytest.param(lambda w: w["tensors"].update({"word_embed.weight": w["tensors"]["word_embed.weight"] - numpy.float32("inf")}), "'word_embed.weight' contains NaN or infinite", id="tensor-inf"),
        # Finite, but scores from them overflow: NaN probabilities, one tag for every token.
        pytest.param(lambda w: set_weight(w, "tag_head.weight", (1, 2), 3e37), "weights entry 'tag_head.weight' holds a value of magnitude 3e+37, more than any trained network has (10000)", id="tensor-huge"),
        pytest.param(lambda w: set_weight(w, "bilstm.forward_layers.0.bias_hh_l0", 0, -20000.0), "'bilstm.forward_layers.0.bias_hh_l0' holds a value of magnitude 2e+04", id="tensor-absurd"),
        pytest.param(lambda w: w["tensors"].update({"char_cnn.bias": w["tensors"]["char_cnn.bias"].astype("float16") * numpy.float16(60000)}), "'char_cnn.bias' holds a value of magnitude", id="tensor-huge-float16"),
    ],
)
def test_damaged_weights(copy, damage, phrase):
    msg = read_model(copy)
    damage(msg)
    write_model(copy, msg)
    assert_refused(copy, phrase)


@pytest.mark.parametrize(
    "damage, phrase",
    [
        pytest.param(lambda w: w.update(shape=None), "the network's sizes are missing", id="shape-missing"),
        pytest.param(lambda w: w["shape"].update(n_words="many"), "n_words='many' is not a whole number", id="size-not-a-number"),
        pytest.param(lambda w: w["shape"].update(n_chars=True), "n_chars=True is not a whole number", id="size-bool"),
        pytest.param(lambda w: w["shape"].update(word_width=-16), "word_width=-16 is not >= 1", id="size-negative"),
        pytest.param(lambda w: w["shape"].update(n_tags=0), "n_tags=0 is not >= 1", id="zero-tags"),
        pytest.param(lambda w: w["shape"].update(depth=10**5), "depth=100000 is not from 1 to 100", id="depth-absurd"),
        pytest.param(lambda w: w["shape"].update(char_kernels=0), "char_kernels=0 is not from 1 to 10", id="no-char-cnn"),
        pytest.param(lambda w: w["shape"].update(char_kernels=11), "char_kernels=11 is not from 1 to 10", id="char-cnns-absurd"),
        pytest.param(lambda w: w["shape"].update(char_edges=2), "char_edges=2 is not from 0 to 1", id="char-edges-not-0-or-1"),
        # Sizes that would need terabytes: refused by arithmetic, before anything is allocated.
        pytest.param(lambda w: w["shape"].update(n_words=10**12), "more than a file of", id="huge-sizes"),
        pytest.param(lambda w: w["shape"].update(hidden_width=10**5, depth=100), "more than a file of", id="huge-product"),
        pytest.param(lambda w: w["shape"].update(evil=1), "network's sizes are damaged", id="unknown-size"),
        pytest.param(lambda w: w.update(format="something-else/1"), "not an lstm_tagger model file", id="other-format"),
    ],
)
def test_damaged_network_sizes_are_refused_before_building(copy, damage, phrase, no_network_built):
    msg = read_model(copy)
    damage(msg)
    write_model(copy, msg)
    assert_refused(copy, phrase)


def test_parameter_count_is_computed_without_building(saved):
    network = spacy.load(saved).get_pipe("lstm_tagger").model.network
    variants = [
        replace(network.shape, depth=3, n_pos=5, char_kernels=3),
        replace(network.shape, char_kernels=2, char_edges=1),
    ]
    for shape in [network.shape] + variants:
        built = BiLSTMTagger(shape)
        assert shape.n_parameters() == sum(p.numel() for p in built.parameters())


@pytest.mark.parametrize(
    "entries, phrase",
    [
        ({"labels": []}, "the weights have 3 tag and 0 UPOS outputs, but cfg has 0 tags"),
        ({"labels": ["DET", "", "V"]}, "'labels' is not a list of non-empty strings"),
        ({"labels": ["DET", "NN", "NN"]}, "'labels' has repeated labels ['NN']"),
        ({"labels": ["DET", "NN", 3]}, "'labels' is not a list of non-empty strings"),
        ({"pos_labels": ["NOUN", "NOUN"]}, "'pos_labels' has repeated labels ['NOUN']"),
        ({"pos_labels": ["NOUN"]}, "the weights have 3 tag and 0 UPOS outputs, but cfg has 3 tags and 1 UPOS"),
        ({"overwrite": True}, "the cfg has unknown entries ['overwrite']"),
        ({"labels": ["DET", "NN\t", "V"]}, "cfg 'labels' has the label 'NN\\t', which contains the control character U+0009"),
        ({"labels": ["DET", "NN\n", "V"]}, "cfg 'labels' has the label 'NN\\n', which contains the control character U+000A"),
        ({"labels": ["DET", "N\x1bN", "V"]}, "cfg 'labels' has the label 'N\\x1bN', which contains the control character U+001B"),
        ({"labels": ["DET", "NN ", "V"]}, "cfg 'labels' has the label 'NN ', which starts or ends with whitespace"),
    ],
)
def test_bad_cfg_is_refused(copy, entries, phrase):
    edit_cfg(copy, **entries)
    file = "model" if "weights have" in phrase else "cfg"
    assert_refused(copy, phrase, file=file)


def test_predict_pos_without_upos_head_is_refused(saved):
    with pytest.raises(ValueError) as info:
        spacy.load(saved, config={"components": {"lstm_tagger": {"predict_pos": True}}})
    message = str(info.value)
    assert "[lstm_tagger]" in message and str(saved / "lstm_tagger" / "model") in message
    assert "predict_pos is set, but the model has no UPOS output layer" in message


@pytest.mark.parametrize(
    "setting, value, phrase",
    [
        ("max_sequence", 0, "max_sequence=0 is not from 1 to 4096"),
        ("max_sequence", 10**9, "max_sequence=1000000000 is not from 1 to 4096"),
        ("group_size", -1, "group_size=-1 is not from 1 to 4096"),
        ("max_word_chars", 0, "max_word_chars=0 is not from 1 to 1000"),
        ("dropout", "0.1", "dropout='0.1' is not a rate from 0 up to 1"),
        ("word_dropout", 1.5, "word_dropout=1.5 is not a rate from 0 up to 1"),
        ("feature_lemma_gradient", 1.01, "feature_lemma_gradient=1.01 is not a number from 0 to 1"),
        ("feature_lemma_gradient", -0.5, "feature_lemma_gradient=-0.5 is not a number from 0 to 1"),
        ("min_word_count", 0, "min_word_count=0 is not >= 1"),
        ("char_edges", -1, "char_edges=-1 is not from 0 to 1"),
    ],
)
def test_bad_model_settings_are_refused(saved, setting, value, phrase):
    with pytest.raises(ValueError, match=r"\[lstm_tagger\] invalid settings: ") as info:
        spacy.load(saved, config={"components": {"lstm_tagger": {"model": {setting: value}}}})
    assert phrase in str(info.value)


def test_wider_character_cnns_round_trip(tmp_path):
    nlp = make_nlp(char_kernels=3)
    network = nlp.get_pipe("lstm_tagger").model.network
    assert [cnn.kernel_size[0] for cnn in network.char_cnns] == [3, 5, 7]
    assert network.bilstm.forward_layers[0].input_size == SMALL["word_width"] + 3 * SMALL["char_features"]
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    numpy.testing.assert_array_equal(scores(loaded), scores(nlp))
    with pytest.raises(ModelFileError, match=r"char_kernels=3 \(config: 1\)"):
        spacy.load(tmp_path / "pipeline", config={"components": {"lstm_tagger": {"model": {"char_kernels": 1}}}})


def test_word_edge_characters_round_trip(tmp_path):
    nlp = make_nlp(char_edges=1)
    network = nlp.get_pipe("lstm_tagger").model.network
    assert network.edge_chars.shape == (2, SMALL["char_width"])
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    numpy.testing.assert_array_equal(scores(loaded), scores(nlp))
    with pytest.raises(ModelFileError, match=r"char_edges=1 \(config: 0\)"):
        spacy.load(tmp_path / "pipeline", config={"components": {"lstm_tagger": {"model": {"char_edges": 0}}}})
    # The edge characters reach the scores: other edges, other scores (with
    # output weights that are not zero, as they are before training).
    with torch.no_grad():
        for model in (nlp, loaded):
            torch.manual_seed(0)
            torch.nn.init.normal_(model.get_pipe("lstm_tagger").model.network.tag_head.weight)
        network.edge_chars.add_(1.0)
    assert not numpy.allclose(scores(nlp), scores(loaded))


@pytest.mark.parametrize("missing", [["char_kernels", "char_edges"], ["char_edges"]])
def test_model_file_from_before_later_sizes_loads_with_their_old_values(copy, saved, missing):
    msg = read_model(copy)
    for name in missing:
        del msg["shape"][name]
    write_model(copy, msg)
    numpy.testing.assert_array_equal(scores(spacy.load(copy)), scores(spacy.load(saved)))


def test_nan_rates_are_refused():
    # spaCy refuses NaN in a config itself (E961); built directly, the component does.
    for rate in ("dropout", "word_dropout"):
        with pytest.raises(ValueError, match=rf"\[tagger\] invalid settings: {rate}=nan is not a rate"):
            LSTMTagger(Vocab(), build_lstm_tagger(**{rate: float("nan")}), "tagger")
    with pytest.raises(ValueError, match=r"invalid settings: feature_lemma_gradient=nan is not a number from 0 to 1"):
        LSTMTagger(Vocab(), build_lstm_tagger(feature_lemma_gradient=float("nan")), "tagger")


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
    assert tagger.labels == () and not tagger.model.is_ready


def test_serialized_labels_that_break_conllu_are_refused(saved):
    component = spacy.load(saved).get_pipe("lstm_tagger")
    msg = srsly.msgpack_loads(component.to_bytes())
    cfg = srsly.json_loads(msg["cfg"])
    cfg["labels"][1] = "NN\r"
    msg["cfg"] = srsly.json_dumps(cfg)
    tagger = spacy.blank("en").add_pipe("lstm_tagger", config={"model": SMALL})
    with pytest.raises(ModelFileError) as err:
        tagger.from_bytes(srsly.msgpack_dumps(msg))
    assert str(err.value) == (
        "[lstm_tagger] cannot load the serialized component 'lstm_tagger' (cfg): cfg 'labels' "
        "has the label 'NN\\r', which contains the control character U+000D"
    )
    assert tagger.labels == () and not tagger.model.is_ready


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


def plant_as_thinc_shim_state(pipeline, payload):
    # Where thinc's default PyTorchShim keeps a torch.save'd state dict.
    shim = srsly.msgpack_dumps({"config": {}, "state": payload})
    msg = {"nodes": [{"index": 0, "name": "lstm_tagger", "dims": {}, "refs": {}}],
           "attrs": [{}], "params": [{}], "shims": [[shim]]}
    write_model(pipeline, msg)


def test_model_file_of_the_older_format(copy):
    plant_as_thinc_shim_state(copy, b"")
    assert_refused(copy, "the file is of an older spacy-lstm-tagger: train the model again")


def plant_as_shape(pipeline, payload):
    msg = read_model(pipeline)
    msg["shape"] = payload
    write_model(pipeline, msg)


def plant_as_tensor(pipeline, payload):
    msg = read_model(pipeline)
    msg["tensors"]["tag_head.weight"] = payload
    write_model(pipeline, msg)


def plant_as_tables(pipeline, payload):
    msg = read_model(pipeline)
    msg["tables"] = payload
    write_model(pipeline, msg)


@pytest.mark.parametrize(
    "plant",
    [plant_in_model_file, plant_as_thinc_shim_state, plant_as_shape, plant_as_tensor, plant_as_tables],
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


@pytest.mark.parametrize(
    "sizes, message",
    [
        # Each size is in range, the whole is not: refused at initialize.
        ({"hidden_width": 10**6}, "cannot initialize: the network would have"),
        # Out of its declared range: refused when the component is created.
        ({"depth": 10**5}, "invalid settings: depth=100000 is not from 1 to 100"),
    ],
)
def test_absurd_sizes_in_the_config_are_refused_before_building(sizes, message, no_network_built):
    with pytest.raises(ValueError, match=r"\[lstm_tagger\] " + re.escape(message)):
        make_nlp(**sizes)


SAVED_PIPELINE = Path(__file__).parent / "data" / "saved-pipeline"


def test_a_pipeline_saved_by_an_earlier_version_tags_as_it_did():
    """tests/data/saved-pipeline was saved by spacy-lstm-tagger 0.1.0 before its
    modules moved into wings (XPOS and UPOS heads, top_k 2, temperature 1.25);
    the expected values are what that version predicted with it."""
    expected = json.loads((SAVED_PIPELINE.parent / "saved-pipeline-expected.json").read_text())
    nlp = spacy.load(SAVED_PIPELINE)
    docs = list(nlp.pipe(expected["texts"]))
    assert [[t.tag_ for t in doc] for doc in docs] == expected["tags"]
    assert [[t.pos_ for t in doc] for doc in docs] == expected["pos"]
    probs = [[t._.tag_prob for t in doc] for doc in docs]
    assert numpy.allclose(sum(probs, []), sum(expected["tag_prob"], []), atol=1e-6)
    top = [[[tag for tag, _ in t._.tag_top_k] for t in doc] for doc in docs]
    assert top == [[[tag for tag, _ in pairs] for pairs in doc] for doc in expected["tag_top_k"]]
