"""The ONNX Runtime engine (`engine = "onnx"`) against torch."""
import warnings

import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc
from thinc.api import Adam, fix_random_seed

from spacy_lstm_tagger.pipeline import onnx_engine
from spacy_lstm_tagger.pipeline.network import BiLSTM
from spacy_lstm_tagger.data.treebank import ewt_file
from spacy_lstm_tagger.data.corpus import read_docs, write_docbin
from spacy_lstm_tagger.configs import CONFIG_DIR
from spacy_lstm_tagger.training.options import TrainingOptions
from spacy_lstm_tagger.training.runs import train_files

from helpers import SMALL_MODEL, TOY_TAGS, TOY_TEXTS, tags_of, toy_examples


def engine(name):
    return {"components": {"lstm_tagger": {"model": {"engine": name}}}}


@pytest.fixture
def one_torch_thread():
    """Torch at one thread, where the engine runs ONNX; more fall back to torch."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def onnx_runs(monkeypatch, one_torch_thread):
    """The number of ONNX Runtime session runs so far, as a list of ones. The
    engine runs ONNX at one torch thread only (more fall back to torch), so the
    test runs at one thread whatever the suite's thread count, and a comparison
    with torch is one with ONNX Runtime."""
    onnxruntime = pytest.importorskip("onnxruntime")
    runs = []
    original = onnxruntime.InferenceSession.run

    def run(self, *args, **kwargs):
        runs.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(onnxruntime.InferenceSession, "run", run)
    return runs


def tags_and_probs(nlp, texts):
    docs = list(nlp.pipe(texts))
    return tags_of(docs), numpy.array([t._.tag_prob for doc in docs for t in doc])


def test_onnx_gives_torchs_tags_and_probabilities(toy_pipeline, onnx_runs):
    texts = TOY_TEXTS + ["Zyxx qwerty 😀 東京 " + "the dog ate " * 30]
    torch_tags, torch_probs = tags_and_probs(spacy.load(toy_pipeline), texts)
    assert not onnx_runs
    onnx_tags, onnx_probs = tags_and_probs(spacy.load(toy_pipeline, config=engine("onnx")), texts)
    assert onnx_runs  # ONNX Runtime tagged them
    assert onnx_tags == torch_tags and onnx_tags[:2] == TOY_TAGS
    numpy.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)


def test_onnx_runs_every_layer_of_a_deeper_lstm(onnx_runs):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": {**SMALL_MODEL, "depth": 3}})
    nlp.initialize(lambda: toy_examples(nlp))  # untrained weights are enough to compare
    # Large seeded weights in the tag layer make the tags depend on every
    # layer, not only on the layer's bias.
    tag_head = nlp.get_pipe("lstm_tagger").model.network.tag_head
    with torch.no_grad():
        tag_head.weight.copy_(torch.randn(tag_head.weight.shape, generator=torch.Generator().manual_seed(0)) * 3)
    texts = TOY_TEXTS + ["Zyxx qwerty 😀 東京"]
    torch_tags, torch_probs = tags_and_probs(nlp, texts)
    assert not onnx_runs
    assert numpy.ptp(torch_probs) > 0.05  # not every tag equally likely
    onnx_nlp = spacy.blank("en")
    onnx_nlp.add_pipe("lstm_tagger", config={"model": {**SMALL_MODEL, "depth": 3, "engine": "onnx"}})
    onnx_nlp.get_pipe("lstm_tagger").from_bytes(nlp.get_pipe("lstm_tagger").to_bytes())
    onnx_tags, onnx_probs = tags_and_probs(onnx_nlp, texts)
    assert onnx_runs
    assert onnx_tags == torch_tags
    numpy.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)


def test_onnx_bilstm_gives_torchs_outputs_at_every_layer(onnx_runs):
    fix_random_seed(0)
    bilstm = BiLSTM(8, 6, depth=3)
    rows = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(0)) * 2
    lengths = torch.tensor([5, 3, 1])
    with torch.inference_mode():
        expected = bilstm(rows, lengths, 0.0, False)
        outputs = onnx_engine.OnnxBiLSTM(bilstm)(rows, lengths)
    assert onnx_runs
    is_token = torch.arange(5) < lengths[:, None]  # outputs past a row's length mean nothing
    assert expected[is_token].abs().max() > 0.1
    numpy.testing.assert_allclose(outputs[is_token].numpy(), expected[is_token].numpy(), atol=1e-5)


def test_onnx_follows_the_weights_as_they_train(onnx_runs):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": {**SMALL_MODEL, "engine": "onnx"}})
    examples = toy_examples(nlp)
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
    untrained = tags_and_probs(nlp, TOY_TEXTS)  # builds a session of the first weights
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    before = len(onnx_runs)
    trained = tags_and_probs(nlp, TOY_TEXTS)
    assert len(onnx_runs) > before > 0
    assert trained[0] == TOY_TAGS and not numpy.allclose(trained[1], untrained[1])
    on_torch = spacy.blank("en")
    on_torch.add_pipe("lstm_tagger", config={"model": SMALL_MODEL})
    on_torch.get_pipe("lstm_tagger").from_bytes(nlp.get_pipe("lstm_tagger").to_bytes())
    numpy.testing.assert_allclose(trained[1], tags_and_probs(on_torch, TOY_TEXTS)[1], atol=1e-4)


def test_onnx_runs_at_one_thread_and_torch_at_more(toy_pipeline):
    pytest.importorskip("onnxruntime")
    model = spacy.load(toy_pipeline, config=engine("onnx")).get_pipe("lstm_tagger").model
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert isinstance(model.inference_lstm.get(model.network.bilstm), onnx_engine.OnnxBiLSTM)
        torch.set_num_threads(2)
        assert model.inference_lstm.get(model.network.bilstm) is None
    finally:
        torch.set_num_threads(threads)


def test_without_onnxruntime_it_tags_with_torch_and_says_so(toy_pipeline, monkeypatch, one_torch_thread):
    monkeypatch.setattr(onnx_engine, "_runtime", lambda: None)
    nlp = spacy.load(toy_pipeline, config=engine("onnx"))
    with pytest.warns(UserWarning, match=r'engine "onnx" needs onnxruntime and onnx .*tagging with torch'):
        assert tags_of(nlp.pipe(TOY_TEXTS)) == TOY_TAGS


def test_the_graph_declares_the_oldest_ir_version_its_opset_allows(toy_pipeline):
    # onnx 1.23 stamps IR 14 by default, which onnxruntime 1.22 refuses;
    # onnx's versioning table puts opset 17 at IR 8.
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    bilstm = spacy.load(toy_pipeline).get_pipe("lstm_tagger").model.network.bilstm
    graph = onnx_engine._graph(onnx, bilstm)
    assert graph.ir_version == 8 and [(o.domain, o.version) for o in graph.opset_import] == [("", 17)]
    onnx.checker.check_model(graph)


def test_a_runtime_that_refuses_the_graph_tags_with_torch_after_one_warning(toy_pipeline, monkeypatch):
    onnxruntime = pytest.importorskip("onnxruntime")
    texts = TOY_TEXTS + ["Zyxx qwerty 😀 東京 " + "the dog ate " * 30]
    torch_tags, torch_probs = tags_and_probs(spacy.load(toy_pipeline), texts)

    def refuse(*args, **kwargs):
        raise RuntimeError("Unsupported model IR version: 14, max supported IR version: 13")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    nlp = spacy.load(toy_pipeline, config=engine("onnx"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [tags_and_probs(nlp, texts) for _ in range(3)]
        assert tags_of(nlp.pipe(texts, batch_size=1)) == torch_tags
    assert [str(w.message) for w in caught] == [
        f'engine "onnx": onnxruntime {onnxruntime.__version__} cannot run the BiLSTM\'s graph '
        "(RuntimeError: Unsupported model IR version: 14, max supported IR version: 13); "
        "tagging with torch instead"
    ]
    for tags, probs in results:
        assert tags == torch_tags and tags[:2] == TOY_TAGS
        numpy.testing.assert_allclose(probs, torch_probs, atol=1e-6)


def test_an_unknown_engine_is_refused(toy_pipeline):
    with pytest.raises(ValueError, match="engine='gpu' is not one of torch, onnx"):
        spacy.load(toy_pipeline, config=engine("gpu"))


@pytest.mark.slow
def test_onnx_agrees_with_torch_on_ewt_dev(ewt, tmp_path, onnx_runs):
    nlp = spacy.blank("en")
    write_docbin(read_docs(ewt_file("train", ewt), nlp.vocab)[:2000], tmp_path / "train.spacy")
    write_docbin(read_docs(ewt_file("dev", ewt), nlp.vocab)[:200], tmp_path / "dev.spacy")
    best = train_files(CONFIG_DIR / "ewt.cfg", tmp_path / "out", tmp_path / "train.spacy", tmp_path / "dev.spacy", options=TrainingOptions(epochs=3, seed=0, log=lambda line: None))
    dev = read_docs(ewt_file("dev", ewt), nlp.vocab)
    gold = [t.tag_ for doc in dev for t in doc]
    words = [([t.text for t in doc], [bool(t.whitespace_) for t in doc]) for doc in dev]
    results = {}
    for name in ("torch", "onnx"):
        loaded = spacy.load(best, config=engine(name))
        docs = [Doc(loaded.vocab, words=w, spaces=s) for w, s in words]  # gold tokens
        runs_before = len(onnx_runs)
        tags, probs = tags_and_probs(loaded, docs)
        assert (len(onnx_runs) > runs_before) == (name == "onnx")
        results[name] = ([t for doc in tags for t in doc], probs)
    torch_tags, torch_probs = results["torch"]
    assert len(torch_tags) == len(gold)
    assert results["onnx"][0] == torch_tags
    numpy.testing.assert_allclose(results["onnx"][1], torch_probs, atol=1e-4)
