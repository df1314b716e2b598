"""TaggerModel on a tiny network built from two sentences: building, the model
file written and read by hand, and the passes through the network."""
import numpy
import pytest
import spacy
import srsly
import torch
from thinc.api import SGD

from spacy_lstm_tagger.pipeline import model as model_module
from spacy_lstm_tagger.pipeline.model import (
    MODEL_FORMAT,
    ModelFileError,
    TaggerModel,
    encode_docs,
    forward,
    softmax_per_head,
    train_network,
)
from spacy_lstm_tagger.pipeline.settings import ModelSettings

torch.set_num_threads(1)

SIZES = dict(word_width=4, char_width=2, char_features=3, hidden_width=5, dropout=0.0, word_dropout=0.0)
NLP = spacy.blank("en")
TEXTS = ["The dog ate the apple", "a dog", "", "Everybody read that book ."]
# Words (lowercased, sorted) and characters (sorted) of TEXTS, after <pad> and <unk>.
WORDS = ["<pad>", "<unk>", ".", "a", "apple", "ate", "book", "dog", "everybody", "read", "that", "the"]
CHARS = ["<pad>", "<unk>", *sorted(set("".join(TEXTS).replace(" ", "")))]


def docs(texts=TEXTS):
    return [NLP.make_doc(text) for text in texts]


def built(n_tags=3, n_pos=2, extra_heads=(), seed=0, **settings):
    """A model whose every weight is drawn from a seeded generator."""
    model = TaggerModel(ModelSettings(**{**SIZES, **settings})).build(docs(), n_tags, n_pos, extra_heads)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.network.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    return model


def message(**entries):
    """A model file written by hand from the entries of a good one (and bytes
    that no reader looks at, so that its size is never the first problem)."""
    msg = srsly.msgpack_loads(built().to_bytes())
    msg.update(entries, ballast=b"." * 4000)
    return {k: v for k, v in msg.items() if v is not ...}


def refused(msg, **settings):
    data = msg if isinstance(msg, bytes) else srsly.msgpack_dumps(msg)
    model = TaggerModel(ModelSettings(**{**SIZES, **settings}))
    with pytest.raises(ModelFileError) as error:
        model.from_bytes(data)
    assert not model.is_ready
    return str(error.value)


def test_build_makes_tables_of_the_docs_and_a_network_of_their_sizes():
    model = TaggerModel(ModelSettings(**{**SIZES, "dropout": 0.25, "word_dropout": 0.5, "feature_lemma_gradient": 0.75}))
    assert not model.is_ready and model.shape is None and model.network is None
    assert model.build(docs(), 3, 2, [4, 1]) is model
    assert model.is_ready
    assert model.tables.words == WORDS
    assert model.tables.chars == CHARS
    shape = model.shape
    assert (shape.n_words, shape.n_chars, shape.n_tags, shape.n_pos, shape.extra_heads) == (12, len(CHARS), 3, 2, (4, 1))
    assert (shape.word_width, shape.char_width, shape.char_features, shape.hidden_width) == (4, 2, 3, 5)
    assert model.get_dim("nO") == 3
    assert (model.network.dropout, model.network.word_dropout, model.network.extra_gradient) == (0.25, 0.5, 0.75)
    assert not model.network.training
    assert model.blank_copy().settings == model.settings and not model.blank_copy().is_ready


def test_rare_words_get_no_row():
    model = TaggerModel(ModelSettings(**{**SIZES, "min_word_count": 2})).build(docs(), 1, 0)
    assert model.tables.words == ["<pad>", "<unk>", "dog", "the"]


def test_build_refuses_sizes_beyond_reason():
    with pytest.raises(ValueError, match="^the network would have n_tags=0 is not >= 1; n_pos=-1 is not >= 0$"):
        TaggerModel(ModelSettings(**SIZES)).build(docs(), 0, -1)
    with pytest.raises(ValueError, match=r"^the network would have extra_heads\[0\]=0 is not >= 1$"):
        TaggerModel(ModelSettings(**SIZES)).build(docs(), 1, 0, [0])
    n_weights = built(1, 0).shape.n_parameters()
    limit = model_module.MAX_PARAMETERS
    try:
        model_module.MAX_PARAMETERS = n_weights
        assert TaggerModel(ModelSettings(**SIZES)).build(docs(), 1, 0).is_ready
        model_module.MAX_PARAMETERS = n_weights - 1
        model = TaggerModel(ModelSettings(**SIZES))
        with pytest.raises(ValueError) as error:
            model.build(docs(), 1, 0)
        assert str(error.value) == f"the network would have {n_weights:,} weights (more than {n_weights - 1:,})"
        assert not model.is_ready
        with pytest.raises(ValueError, match="^the network would have n_tags=0 is not >= 1$"):
            model.build(docs(), 0, 0)
    finally:
        model_module.MAX_PARAMETERS = limit


def test_unbuilt_model_file_holds_only_the_format():
    assert srsly.msgpack_loads(TaggerModel(ModelSettings(**SIZES)).to_bytes()) == {"format": MODEL_FORMAT, "shape": None}
    model = TaggerModel(ModelSettings(**SIZES)).from_bytes(srsly.msgpack_dumps({"format": MODEL_FORMAT, "shape": None}))
    assert not model.is_ready


def test_model_file_holds_shape_tables_and_weights():
    model = built(extra_heads=[2])
    msg = srsly.msgpack_loads(model.to_bytes())
    assert sorted(msg) == ["format", "shape", "tables", "tensors"]
    assert msg["format"] == "spacy-lstm-tagger-model/2"
    assert msg["shape"] == {
        "n_words": 12, "n_chars": len(CHARS), "n_tags": 3, "n_pos": 2, "word_width": 4, "char_width": 2,
        "char_features": 3, "hidden_width": 5, "depth": 1, "char_kernels": 1, "char_edges": 0, "extra_heads": [2],
    }
    assert srsly.msgpack_loads(msg["tables"]) == {"words": WORDS, "chars": CHARS}
    weights = model.network.state_dict()
    assert sorted(msg["tensors"]) == sorted(weights)
    for name, array in msg["tensors"].items():
        assert isinstance(array, numpy.ndarray) and array.dtype == numpy.float32
        assert array.tolist() == weights[name].tolist()
    # Without extra heads the shape has no such entry, as files always had.
    assert "extra_heads" not in srsly.msgpack_loads(built().to_bytes())["shape"]


def test_model_file_loads_into_a_blank_copy_and_scores_the_same():
    model = built(extra_heads=[2])
    settings = {**SIZES, "dropout": 0.5, "word_dropout": 0.1, "feature_lemma_gradient": 0.2}
    loaded = TaggerModel(ModelSettings(**settings)).from_bytes(model.to_bytes())
    assert loaded.is_ready and loaded.shape == model.shape and loaded.get_dim("nO") == 3
    assert loaded.tables.words == WORDS and loaded.tables.chars == CHARS
    # The rates are the loading config's.
    assert (loaded.network.dropout, loaded.network.word_dropout, loaded.network.extra_gradient) == (0.5, 0.1, 0.2)
    assert not loaded.network.training
    for name, tensor in model.network.state_dict().items():
        assert loaded.network.state_dict()[name].tolist() == tensor.tolist()
    expected, _ = forward(model, docs(), False)
    got, _ = forward(loaded, docs(), False)
    for a, b in zip(expected, got):
        numpy.testing.assert_allclose(a, b, rtol=1e-6)


def test_old_model_file_without_later_sizes_loads_with_their_old_values():
    model = built(n_pos=0)
    msg = srsly.msgpack_loads(model.to_bytes())
    for name in ("char_kernels", "char_edges"):
        del msg["shape"][name]
    loaded = TaggerModel(ModelSettings(**SIZES)).from_bytes(srsly.msgpack_dumps(msg))
    assert (loaded.shape.char_kernels, loaded.shape.char_edges, loaded.shape.extra_heads) == (1, 0, ())
    assert loaded.shape == model.shape


def test_other_weight_types_are_read_as_float32():
    msg = message()
    msg["tensors"] = {
        name: array.astype("float16" if i % 2 else "float64") for i, (name, array) in enumerate(msg["tensors"].items())
    }
    loaded = TaggerModel(ModelSettings(**SIZES)).from_bytes(srsly.msgpack_dumps(msg))
    for name, tensor in loaded.network.state_dict().items():
        assert tensor.dtype == torch.float32
        numpy.testing.assert_allclose(tensor.numpy(), msg["tensors"][name].astype("float32"))


def test_loading_into_a_built_model_is_refused():
    model = built()
    with pytest.raises(ValueError, match=r"^load a model file into a blank_copy\(\), not into a built model$"):
        model.from_bytes(model.to_bytes())


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"\xc1", "the file is damaged or truncated (FormatError: )"),
        (srsly.msgpack_dumps({"format": MODEL_FORMAT})[:-3],
         "the file is damaged or truncated (ValueError: Unpack failed: incomplete input)"),
        (b"", "the file is damaged or truncated (ValueError: Unpack failed: incomplete input)"),
        (srsly.msgpack_dumps({"nodes": []}), "the file is of an older spacy-lstm-tagger: train the model again"),
        (srsly.msgpack_dumps([1]), "not an lstm_tagger model file (expected format 'spacy-lstm-tagger-model/2')"),
        (srsly.msgpack_dumps({"format": "spacy-lstm-tagger-model/1", "shape": None}),
         "not an lstm_tagger model file (expected format 'spacy-lstm-tagger-model/2')"),
        (srsly.msgpack_dumps({"format": MODEL_FORMAT, "shape": None, "tensors": {}}),
         "the network's sizes are missing"),
        (srsly.msgpack_dumps({"format": MODEL_FORMAT, "tables": b""}), "the network's sizes are missing"),
    ],
)
def test_files_that_are_not_model_files_are_refused(data, expected):
    assert refused(data) == expected


NAMES = str([
    "n_words", "n_chars", "n_tags", "n_pos", "word_width", "char_width", "char_features", "hidden_width", "depth",
    "char_kernels", "char_edges", "extra_heads",
])


def shape_with(**entries):
    shape = message()["shape"]
    shape.update(entries)
    return {k: v for k, v in shape.items() if v is not ...}


@pytest.mark.parametrize(
    "shape, expected",
    [
        (5, f"the network's sizes are damaged: expected {NAMES}, got 5"),
        (shape_with(depth=...),
         "the network's sizes are damaged: expected " + NAMES
          + ", got {'char_kernels': 1, 'char_edges': 0, 'extra_heads': (), 'n_words': 12,"),
        (shape_with(colour=1), "the network's sizes are damaged: expected " + NAMES),
        (shape_with(n_tags=0, word_width="4"),
         "invalid network sizes: n_tags=0 is not >= 1; word_width='4' is not a whole number"),
        (shape_with(extra_heads=[0]), "invalid network sizes: extra_heads[0]=0 is not >= 1"),
        (shape_with(extra_heads=3), "invalid network sizes: extra_heads=3 is not a list of whole numbers"),
        (shape_with(word_width=8, hidden_width=6),
         "the weights are of another architecture size: word_width=8 (config: 4), hidden_width=6 (config: 5)"),
        (shape_with(n_words=10**6), "the network's sizes need 4,000,"),
    ],
)
def test_damaged_sizes_are_refused(shape, expected):
    assert refused(message(shape=shape)).startswith(expected)


def test_sizes_larger_than_the_file_are_refused():
    data = srsly.msgpack_dumps(message(shape=shape_with(n_words=10**6)))
    n_weights = built().shape.n_parameters() + (10**6 - 12) * 4
    assert refused(data) == (
        f"the network's sizes need {n_weights:,} weights, more than a file of {len(data):,} bytes holds"
    )


def test_sizes_that_the_file_can_hold_are_checked_further():
    # 2 bytes a weight: the tables come next, and say they do not fit.
    n_words = 12 + (len(srsly.msgpack_dumps(message())) // 2 - built().shape.n_parameters()) // 4 - 50
    assert refused(message(shape=shape_with(n_words=n_words))).startswith(
        f"the index tables (12 words, {len(CHARS)} characters) do not fit the weights ({n_words} words"
    )


@pytest.mark.parametrize(
    "tables, expected",
    [
        (..., "the index tables are missing"),
        ("words", "the index tables are missing"),
        (srsly.msgpack_dumps({"words": WORDS, "chars": CHARS})[:-3],
         "index tables are damaged or truncated (Unpack failed: incomplete input)"),
        (srsly.msgpack_dumps({"words": WORDS[:-1], "chars": CHARS}),
         f"the index tables (11 words, {len(CHARS)} characters) do not fit the weights (12 words, {len(CHARS)} characters)"),
        (srsly.msgpack_dumps({"words": WORDS, "chars": CHARS[:-1]}),
         f"the index tables (12 words, {len(CHARS) - 1} characters) do not fit the weights (12 words, {len(CHARS)} characters)"),
    ],
)
def test_damaged_tables_are_refused(tables, expected):
    assert refused(message(tables=tables)) == expected


def tensors_with(name, array):
    tensors = dict(message()["tensors"])
    tensors[name] = array
    return {k: v for k, v in tensors.items() if v is not ...}


@pytest.mark.parametrize(
    "tensors, expected",
    [
        (..., "the weights are missing"),
        ([1, 2], "the weights are missing"),
        (tensors_with("tag_head.bias", ...),
         "the weights do not fit the network: missing ['tag_head.bias'], unexpected []"),
        (tensors_with("extra_head.bias", numpy.zeros(2, "float32")),
         "the weights do not fit the network: missing [], unexpected ['extra_head.bias']"),
        (tensors_with("tag_head.bias", numpy.zeros(3, "int64")),
         "weights entry 'tag_head.bias' is not a numeric array"),
        (tensors_with("tag_head.bias", [0.0, 0.0, 0.0]), "weights entry 'tag_head.bias' is not a numeric array"),
        (tensors_with("tag_head.bias", numpy.zeros(4, "float32")),
         "weights entry 'tag_head.bias' has shape (4,), the saved sizes need (3,)"),
        (tensors_with("tag_head.bias", numpy.array([0.0, numpy.nan, 0.0], "float32")),
         "weights entry 'tag_head.bias' contains NaN or infinite values"),
        (tensors_with("tag_head.bias", numpy.array([0.0, -numpy.inf, 0.0], "float32")),
         "weights entry 'tag_head.bias' contains NaN or infinite values"),
        (tensors_with("tag_head.bias", numpy.array([0.0, -10001.0, 0.0], "float32")),
         "weights entry 'tag_head.bias' holds a value of magnitude 1e+04, more than any trained network has (10000)"),
    ],
)
def test_damaged_weights_are_refused(tensors, expected):
    assert refused(message(tensors=tensors)) == expected


def test_weights_up_to_the_largest_are_read():
    tensors = tensors_with("tag_head.bias", numpy.array([10000.0, -10000.0, 0.0], "float32"))
    loaded = TaggerModel(ModelSettings(**SIZES)).from_bytes(srsly.msgpack_dumps(message(tensors=tensors)))
    assert loaded.network.tag_head.bias.tolist() == [10000.0, -10000.0, 0.0]


def test_softmax_per_head_by_hand():
    scores = torch.tensor([[0.0, numpy.log(3.0), 5.0, 5.0, 7.0], [1.0, 1.0, 0.0, numpy.log(4.0), -2.0]], dtype=torch.float32)
    probs = softmax_per_head(scores, [2, 2, 1])
    torch.testing.assert_close(probs, torch.tensor([[0.25, 0.75, 0.5, 0.5, 1.0], [0.5, 0.5, 0.2, 0.8, 1.0]]))


def per_doc_scores(model, texts=TEXTS):
    """Each Doc's scores with the Doc alone in its batch, through the network's own forward."""
    network = model.network
    result = []
    for text in texts:
        doc = NLP.make_doc(text)
        if not len(doc):
            result.append(torch.zeros(0, network.shape.n_labels))
            continue
        word_ids = torch.tensor([[model.tables.word_index.get(t.lower_, 1) for t in doc]])
        words = sorted({t.text for t in doc}, key=len)
        type_ids = torch.tensor([[words.index(t.text) for t in doc]])
        width = max(len(w) for w in words)
        type_chars = torch.tensor([[model.tables.char_index.get(c, 1) for c in w] + [0] * (width - len(w)) for w in words])
        with torch.no_grad():
            result.append(network(word_ids, type_ids, type_chars, torch.tensor([len(doc)]), 1))
    return result


def test_encode_docs_gives_every_token_in_doc_order():
    model = built(group_size=1)
    hidden = encode_docs(model, docs())
    assert hidden.shape == (5 + 2 + 0 + 5, 10)
    expected = torch.cat(per_doc_scores(model))
    with torch.no_grad():
        torch.testing.assert_close(model.network.score(hidden), expected, rtol=1e-5, atol=1e-5)
    assert encode_docs(model, []).shape == (0, 10)
    assert encode_docs(model, docs(["", ""])).shape == (0, 10)


def test_long_docs_are_encoded_in_segments_of_max_sequence():
    model = built(max_sequence=2, group_size=2)
    hidden = encode_docs(model, docs(["The dog ate the apple"]))
    parts = per_doc_scores(model, ["The dog", "ate the", "apple"])
    with torch.no_grad():
        torch.testing.assert_close(model.network.score(hidden), torch.cat(parts), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("extra_heads", [(), (2, 1)])
def test_forward_gives_each_docs_probabilities_per_head(extra_heads):
    model = built(extra_heads=extra_heads, group_size=2)
    probs, backprop = forward(model, docs(), False)
    width = 5 + sum(extra_heads)
    assert [p.shape for p in probs] == [(5, width), (2, width), (0, width), (5, width)]
    for got, scores in zip(probs, per_doc_scores(model)):
        expected = softmax_per_head(scores, [3, 2, *extra_heads]).numpy()
        numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="^the model ran without is_train: there is nothing to backpropagate$"):
        backprop(probs)


def test_training_pass_gives_the_same_probabilities_and_the_gradient_of_the_mean():
    model = built(extra_heads=(2,), group_size=3)
    network = model.network
    probs, backprop = forward(model, docs(), True)
    expected_scores = per_doc_scores(model)
    for got, scores in zip(probs, expected_scores):
        numpy.testing.assert_allclose(got, softmax_per_head(scores, [3, 2, 2]).numpy(), rtol=1e-5, atol=1e-6)
    assert not network.training
    generator = torch.Generator().manual_seed(5)
    d_scores = [torch.randn(p.shape, generator=generator) for p in probs]
    assert backprop([d.numpy() for d in d_scores]) == []
    ours = {name: p.grad.clone() for name, p in network.named_parameters()}
    # The same gradient from torch: each Doc alone, the loss summed, over 12 tokens.
    network.zero_grad()
    for text, d in zip(TEXTS, d_scores):
        if text:
            doc = NLP.make_doc(text)
            words = sorted({t.text for t in doc}, key=len)
            width = max(len(w) for w in words)
            scores = network(
                torch.tensor([[model.tables.word_index.get(t.lower_, 1) for t in doc]]),
                torch.tensor([[words.index(t.text) for t in doc]]),
                torch.tensor([[model.tables.char_index.get(c, 1) for c in w] + [0] * (width - len(w)) for w in words]),
                torch.tensor([len(doc)]), 1,
            )
            (scores * d / 12).sum().backward()
    for name, param in network.named_parameters():
        torch.testing.assert_close(ours[name], param.grad, rtol=1e-4, atol=1e-6)
    assert any(float(g.abs().max()) > 0 for g in ours.values())


def test_train_network_trains_with_dropout_and_leaves_the_module_in_eval_mode():
    model = built(dropout=0.5, word_dropout=0.0)
    segments = model_module.cut_segments(docs(), 256)[0]
    torch.manual_seed(0)
    probs, _ = train_network(model, segments)
    assert not model.network.training
    assert probs.shape == (12, 5)
    torch.testing.assert_close(probs.sum(dim=1), torch.full((12,), 2.0))
    clean = softmax_per_head(torch.cat([s for s in per_doc_scores(model) if len(s)]), [3, 2])
    assert not torch.allclose(torch.sort(probs, dim=0).values, torch.sort(clean, dim=0).values, atol=1e-3)


def test_finish_update_writes_the_step_into_the_parameters():
    model = built(n_pos=0)
    network = model.network
    before = {name: p.detach().clone() for name, p in network.named_parameters()}
    where = {name: p.data_ptr() for name, p in network.named_parameters()}
    generator = torch.Generator().manual_seed(7)
    for name, param in network.named_parameters():
        if name != "tag_head.bias":
            param.grad = torch.randn(param.shape, generator=generator) * 0.01
    grads = {name: p.grad.clone() for name, p in network.named_parameters() if p.grad is not None}
    model.finish_update(SGD(0.5, grad_clip=0.0, use_averages=False))
    for name, param in network.named_parameters():
        assert param.data_ptr() == where[name]
        if name == "tag_head.bias":
            assert param.grad is None and param.tolist() == before[name].tolist()
        else:
            torch.testing.assert_close(param.detach(), before[name] - 0.5 * grads[name])
            assert not param.grad.any()


def test_averaged_weights_are_used_inside_use_params_only():
    model = built(n_pos=0)
    shim = model.shims[0]
    before = {name: p.detach().clone() for name, p in model.network.named_parameters()}
    averages = {
        (shim.id, "tag_head.bias"): numpy.array([1.0, 2.0, 3.0], "float32"),
        (shim.id + 1, "tag_head.weight"): numpy.zeros((3, 10), "float32"),  # another shim's
    }
    with model.use_params(averages):
        assert model.network.tag_head.bias.tolist() == [1.0, 2.0, 3.0]
        assert model.network.tag_head.weight.tolist() == before["tag_head.weight"].tolist()
    for name, param in model.network.named_parameters():
        assert param.tolist() == before[name].tolist()
    with model.use_params({(shim.id + 1, "tag_head.bias"): numpy.zeros(3, "float32")}):
        assert model.network.tag_head.bias.tolist() == before["tag_head.bias"].tolist()
    blank = TaggerModel(ModelSettings(**SIZES))
    with blank.use_params(averages):
        assert blank.network is None


def test_model_name_and_blank_state():
    model = TaggerModel(ModelSettings(**SIZES, engine="onnx"))
    assert model.name == "lstm_tagger"
    assert not model.tables.is_built and model.tables.words == []
    assert model.inference_lstm.engine == "onnx"
    assert TaggerModel(ModelSettings(**SIZES)).inference_lstm.engine == "torch"


def test_predict_and_begin_update_run_forward():
    model = built(group_size=2)
    expected = [softmax_per_head(s, [3, 2]).numpy() for s in per_doc_scores(model)]
    for got, want in zip(model.predict(docs()), expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    probs, backprop = model.begin_update(docs())
    for got, want in zip(probs, expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert backprop([numpy.zeros_like(p) for p in probs]) == []


def test_build_again_replaces_the_network_and_its_sizes():
    model = built(n_tags=3)
    model.build(docs(["a b"]), 4, 0)
    assert model.get_dim("nO") == 4 and model.shape.n_tags == 4 and model.tables.words == ["<pad>", "<unk>", "a", "b"]


def test_a_file_of_two_bytes_a_weight_passes_the_size_check():
    def data(n_words, ballast):
        msg = message(shape=shape_with(n_words=n_words))
        msg["ballast"] = b"." * ballast
        return srsly.msgpack_dumps(msg)

    n_words = 2000
    n_weights = built().shape.n_parameters() + (n_words - 12) * 4
    size = len(data(n_words, 1000))
    exact = data(n_words, 1000 + 2 * n_weights - size)
    assert len(exact) == 2 * n_weights
    assert refused(exact).startswith(f"the index tables (12 words, {len(CHARS)} characters) do not fit")
    # One byte less, or a quarter of what the sizes need, cannot hold the weights.
    for small in (data(n_words, 1000 + 2 * n_weights - size - 1), data(n_words, 1000 + n_weights // 2 - size)):
        assert refused(small) == (
            f"the network's sizes need {n_weights:,} weights, more than a file of {len(small):,} bytes holds"
        )


class Spy:
    """An inference engine that records what it is given and scores every token 1."""

    def __init__(self):
        self.given = []

    def get(self, bilstm):
        self.given.append(bilstm)
        return lambda rows, lengths: torch.ones(rows.shape[0], rows.shape[1], 10)


def test_encode_docs_runs_the_models_inference_engine():
    model = built()
    model.inference_lstm = Spy()
    hidden = encode_docs(model, docs())
    assert model.inference_lstm.given == [model.network.bilstm]
    assert hidden.tolist() == [[1.0] * 10] * 12


def test_finish_update_skips_parameters_without_gradient_and_keys_averages_by_shim_and_name():
    model = built(n_pos=0)
    network = model.network
    shim = model.shims[0]
    before = {name: p.detach().clone() for name, p in network.named_parameters()}
    for name, param in network.named_parameters():
        if name != "char_embed.weight":
            param.grad = torch.full(param.shape, 0.01)
    optimizer = SGD(0.5, grad_clip=0.0, use_averages=True)
    model.finish_update(optimizer)
    for name, param in network.named_parameters():
        if name == "char_embed.weight":
            assert param.tolist() == before[name].tolist()
        else:
            torch.testing.assert_close(param.detach(), before[name] - 0.005)
    assert sorted(optimizer.averages) == sorted((shim.id, n) for n in before if n != "char_embed.weight")


def test_finish_update_copies_new_arrays_of_an_optimizer_that_is_not_in_place():
    model = built(n_pos=0)
    network = model.network
    before = {name: p.detach().clone() for name, p in network.named_parameters()}
    where = {name: p.data_ptr() for name, p in network.named_parameters()}
    for param in network.parameters():
        param.grad = torch.full(param.shape, 0.25)

    def optimizer(key, weights, grads):
        return weights - 2 * grads, grads

    model.finish_update(optimizer)
    for name, param in network.named_parameters():
        assert param.data_ptr() == where[name]
        torch.testing.assert_close(param.detach(), before[name] - 0.5)


def test_a_batch_of_one_token_gets_the_whole_gradient():
    model = built(n_pos=0)
    network = model.network
    _, backprop = forward(model, docs(["dog"]), True)
    backprop([numpy.array([[1.0, -1.0, 0.5]], "float32")])
    ours = network.tag_head.bias.grad.clone()
    torch.testing.assert_close(ours, torch.tensor([1.0, -1.0, 0.5]))


def test_training_in_several_passes_gives_the_same_gradient():
    model = built(group_size=2)
    network = model.network
    generator = torch.Generator().manual_seed(9)
    d_scores = [numpy.asarray(torch.randn(len(doc), 5, generator=generator)) for doc in docs()]
    _, backprop = forward(model, docs(), True)
    backprop(d_scores)
    expected = {name: p.grad.clone() for name, p in network.named_parameters()}
    network.zero_grad()
    expected_probs, _ = forward(model, docs(), False)
    per_pass = model_module.TOKENS_PER_PASS
    try:
        model_module.TOKENS_PER_PASS = 4  # rows of 0 and 2 tokens, then 5, then 5
        probs, backprop = forward(model, docs(), True)
        backprop(d_scores)
        in_passes, _ = forward(model, docs(), False)
    finally:
        model_module.TOKENS_PER_PASS = per_pass
    for got, want in zip(probs, expected_probs):
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for got, want in zip(in_passes, expected_probs):
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for name, param in network.named_parameters():
        torch.testing.assert_close(param.grad, expected[name], rtol=1e-4, atol=1e-6)
