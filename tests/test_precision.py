"""Tagging in bfloat16 (`precision`) against float32."""
import platform
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import Adam

from spacy_lstm_tagger.pipeline import precision as precision_module
from spacy_lstm_tagger.pipeline.network import BiLSTMTagger, NetworkShape
from spacy_lstm_tagger.pipeline.precision import TaggingNetwork

from helpers import TOY_TAGS, TOY_TEXTS
from test_network import SMALL, encode, seeded_network
from test_morph import analyses, expected

TEXTS = TOY_TEXTS + ["Zyxx qwerty 😀 東京 " + "the dog ate " * 30, "Everybody read that book"]


def load(path, precision, **model):
    return spacy.load(path, config={"components": {"lstm_tagger": {"model": {"precision": precision, **model}}}})


def tags_and_probs(nlp, texts=TEXTS):
    docs = list(nlp.pipe(texts, batch_size=2))
    return [[t.tag_ for t in doc] for doc in docs], numpy.array([t._.tag_prob for doc in docs for t in doc])


def all_probs(nlp, texts=TEXTS):
    """Every head's probabilities of every token, through `predict`."""
    docs = [nlp.make_doc(text) for text in texts]
    return numpy.concatenate(nlp.get_pipe("lstm_tagger").predict(docs))


def test_bfloat16_gives_float32s_tags_from_other_numbers(toy_pipeline):
    tags, probs = tags_and_probs(load(toy_pipeline, "float32"))
    low_tags, low_probs = tags_and_probs(load(toy_pipeline, "bfloat16"))
    assert low_tags == tags and tags[:2] == TOY_TAGS
    # bfloat16 keeps 8 significant bits: close, and not equal, so it did run.
    numpy.testing.assert_allclose(low_probs, probs, atol=0.02)
    assert not numpy.array_equal(low_probs, probs)
    low_all, full_all = all_probs(load(toy_pipeline, "bfloat16")), all_probs(load(toy_pipeline, "float32"))
    assert low_all.dtype == full_all.dtype == numpy.float32
    numpy.testing.assert_allclose(low_all.sum(axis=1), full_all.sum(axis=1), rtol=1e-5)
    assert not numpy.array_equal(low_all, full_all)


def test_bfloat16_writes_the_overfit_features_and_lemmas(morph_pipeline):
    assert analyses(load(morph_pipeline, "bfloat16")) == expected()


def test_bfloat16_instructions_are_those_the_cpu_reports():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file() or platform.machine() != "x86_64":
        pytest.skip("the CPU's flags are read from /proc/cpuinfo on x86-64 Linux")
    flags = {flag for line in cpuinfo.read_text().splitlines() if line.startswith("flags") for flag in line.split()}
    assert precision_module.native_bfloat16() == bool({"avx512_bf16", "amx_tile"} & flags)


def test_auto_is_bfloat16_only_with_bfloat16_instructions_and_torch(toy_pipeline, monkeypatch):
    _, full = tags_and_probs(load(toy_pipeline, "float32"))
    _, low = tags_and_probs(load(toy_pipeline, "bfloat16"))
    monkeypatch.setattr(precision_module, "native_bfloat16", lambda: False)
    numpy.testing.assert_array_equal(tags_and_probs(load(toy_pipeline, "auto"))[1], full)
    monkeypatch.setattr(precision_module, "native_bfloat16", lambda: True)
    numpy.testing.assert_array_equal(tags_and_probs(load(toy_pipeline, "auto"))[1], low)
    # ONNX Runtime computes in float32; "auto" never asks it for bfloat16.
    onnx_model = load(toy_pipeline, "auto", engine="onnx").get_pipe("lstm_tagger").model
    assert onnx_model.tagging_network() is onnx_model.network


def test_the_bfloat16_copy_follows_every_change_of_the_weights(toy_pipeline):
    nlp = load(toy_pipeline, "bfloat16")
    tagger = nlp.get_pipe("lstm_tagger")

    def from_current_weights():
        """The probabilities of a pipeline loaded afresh from nlp's weights."""
        fresh = load(toy_pipeline, "bfloat16")
        fresh.get_pipe("lstm_tagger").from_bytes(tagger.to_bytes())
        return tags_and_probs(fresh)[1]

    before = tags_and_probs(nlp)[1]
    # The optimizer writes the weights in place through numpy, unseen by torch.
    examples = [Example.from_dict(nlp.make_doc("the dog ate"), {"tags": ["NN", "DET", "V"]})]
    optimizer = Adam(0.05)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    after_update = tags_and_probs(nlp)[1]
    assert not numpy.array_equal(after_update, before)
    numpy.testing.assert_array_equal(after_update, from_current_weights())
    # A change made with torch.
    with torch.no_grad():
        tagger.model.network.tag_head.bias.add_(torch.linspace(-1, 1, tagger.model.network.tag_head.bias.shape[0]))
    after_torch = tags_and_probs(nlp)[1]
    assert not numpy.array_equal(after_torch, after_update)
    numpy.testing.assert_array_equal(after_torch, from_current_weights())
    # Averaged weights, and the weights back after them.
    averages = {(tagger.model.shims[0].id, name): p.detach().numpy() * 0.5
                for name, p in tagger.model.network.named_parameters()}
    with tagger.model.use_params(averages):
        averaged = tags_and_probs(nlp)[1]
        numpy.testing.assert_array_equal(averaged, from_current_weights())
    assert not numpy.array_equal(averaged, after_torch)
    numpy.testing.assert_array_equal(tags_and_probs(nlp)[1], after_torch)


def test_another_network_gets_its_own_copy():
    # Two networks whose parameters have seen the same torch operations, with
    # the same count of optimizer steps: only their identity tells them apart.
    torch.manual_seed(0)
    first, second = BiLSTMTagger(NetworkShape(**SMALL)), BiLSTMTagger(NetworkShape(**SMALL))
    assert [p._version for p in first.parameters()] == [p._version for p in second.parameters()]
    copies = TaggingNetwork("bfloat16", "torch")
    assert copies.get(first, 0).word_embed.weight.dtype == torch.bfloat16
    assert torch.equal(copies.get(second, 0).word_embed.weight, second.word_embed.weight.to(torch.bfloat16))
    assert copies.get(second, 0) is copies.get(second, 0)
    assert TaggingNetwork("float32", "torch").get(first, 0) is first


@pytest.mark.parametrize("sizes", [{}, {"depth": 2, "char_kernels": 2, "char_edges": 1, "extra_heads": (3, 4)}])
def test_bfloat16_copy_computes_the_word_layers_in_bfloat16_and_characters_in_float32(sizes):
    network = seeded_network(**sizes)
    low = TaggingNetwork("bfloat16", "torch").get(network, 0)
    dtypes = {name: param.dtype for name, param in low.named_parameters()}
    assert {name for name, dtype in dtypes.items() if dtype == torch.float32} == {
        name for name in dtypes if name.startswith(("char_", "edge_chars"))
    }
    assert all(not param.requires_grad for param in low.parameters())
    hidden = encode(low)
    assert hidden.dtype == torch.bfloat16
    expected = network.score(encode(network))
    with torch.no_grad():
        scores = low.score(hidden).float()
    torch.testing.assert_close(scores, expected, rtol=0.05, atol=0.05)
    assert not torch.equal(scores, expected)
    # The float32 network is untouched.
    assert all(param.dtype == torch.float32 and param.requires_grad for param in network.parameters())


def test_threads_share_one_bfloat16_copy(toy_pipeline):
    nlp = load(toy_pipeline, "bfloat16")

    def tag_all(_):
        return [[(t.tag_, t._.tag_prob) for t in doc] for doc in nlp.pipe(TEXTS, batch_size=2)]

    expected_result = tag_all(0)
    copy = nlp.get_pipe("lstm_tagger").model.tagging_network()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(tag_all, range(24)))
    assert all(result == expected_result for result in results)
    assert nlp.get_pipe("lstm_tagger").model.tagging_network() is copy


@pytest.mark.parametrize(
    "model, phrase",
    [
        ({"precision": "float16"}, "precision='float16' is not one of float32, bfloat16, auto"),
        ({"precision": "bfloat16", "engine": "onnx"}, 'precision="bfloat16" needs engine="torch"'),
    ],
)
def test_bad_precision_is_refused(toy_pipeline, model, phrase):
    with pytest.raises(ValueError, match=r"\[lstm_tagger\] invalid settings: ") as info:
        spacy.load(toy_pipeline, config={"components": {"lstm_tagger": {"model": model}}})
    assert phrase in str(info.value)


def test_precision_is_kept_with_the_pipeline(toy_pipeline, tmp_path):
    nlp = load(toy_pipeline, "bfloat16")
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("lstm_tagger").model.settings.precision == "bfloat16"
    numpy.testing.assert_array_equal(tags_and_probs(loaded)[1], tags_and_probs(nlp)[1])

