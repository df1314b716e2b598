"""The thinc model: Docs -> index arrays -> torch tensors -> BiLSTMTagger -> scores.

The torch module sits in thinc's PyTorchShim, so that spaCy's optimizer and
device handling work as for any spaCy model; `forward` plays the part of
PyTorchWrapper's, with the conversions written out in one place. The module's
size depends on the index tables and the labels, so it is built in `init`, and
rebuilt from the saved sizes when loading.
"""
import contextlib
from typing import Any, Callable, List, Optional, Tuple

import numpy
import srsly
import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, Optimizer, PyTorchShim, deserialize_attr, get_torch_default_device
from thinc.api import serialize_attr
from thinc.types import ArgsKwargs, Floats2d
from thinc.util import torch2xp, xp2torch

from .featurize import IndexTables, Segment, cut_segments, featurize, split_by_tokens
from .heap import keep_mmap_threshold
from .network import BiLSTMTagger

WEIGHTS_FORMAT = "spacy-lstm-tagger-weights/1"
# Only plain numeric tensors may come from a model file (no pickle, no objects).
ALLOWED_DTYPES = {"float32", "float16", "float64", "int64", "bool"}
# Tokens per network pass: enough for any ordinary batch, and a bound on the
# memory a huge Doc needs.
TOKENS_PER_PASS = 4096


@registry.architectures("spacy_lstm_tagger.LSTMTagger.v1")
def build_lstm_tagger(
    word_width: int = 100,
    char_width: int = 32,
    char_features: int = 100,
    hidden_width: int = 128,
    depth: int = 1,
    dropout: float = 0.3,
    word_dropout: float = 0.25,
    min_word_count: int = 1,
    max_word_chars: int = 20,
    max_sequence: int = 256,
    group_size: int = 16,
) -> Model[List[Doc], List[Floats2d]]:
    """A BiLSTM tagger over word embeddings and character-CNN features.

    word_width (int): width of the word embedding.
    char_width (int): width of the character embedding.
    char_features (int): character-CNN filters per word.
    hidden_width (int): LSTM hidden size of each direction.
    depth (int): number of BiLSTM layers.
    dropout (float): dropout rate on the LSTM's input and output.
    word_dropout (float): rate of replacing known words by the unknown word in training.
    min_word_count (int): a training word needs this many occurrences to get its
        own embedding; rarer words share the unknown word's.
    max_word_chars (int): characters of a word seen by the CNN (beginning and end).
    max_sequence (int): longer Docs reach the LSTM in segments of this many
        tokens, which bounds memory; every token still gets its scores.
    group_size (int): sentences of similar length that go through the LSTM
        together; smaller groups waste less work on padding, larger ones make
        bigger matrix products.
    RETURNS (Model[List[Doc], List[Floats2d]]): log-probabilities per token, tags
        first, then UPOS labels if the model has dimension nP > 0.
    """
    network_sizes = dict(
        word_width=word_width,
        char_width=char_width,
        char_features=char_features,
        hidden_width=hidden_width,
        depth=depth,
        dropout=dropout,
        word_dropout=word_dropout,
    )
    shim = TaggerShim(
        None,
        serialize_model=serialize_network,
        deserialize_model=deserialize_network,
    )
    return Model(
        "lstm_tagger",
        forward,
        init=init,
        dims={"nO": None, "nP": None},
        attrs={
            "tables": IndexTables(),
            "network_sizes": network_sizes,
            "min_word_count": min_word_count,
            "max_word_chars": max_word_chars,
            "max_sequence": max_sequence,
            "group_size": group_size,
        },
        shims=[shim],
    )


class TaggerShim(PyTorchShim):
    """thinc's PyTorchShim, able to swap in the optimizer's parameter averages.

    thinc's optimizer keys a torch parameter's average by (shim id, name), but
    PyTorchShim.use_params looks for string keys, so with it the averages would
    silently never be used, in `spacy train` either. It also owns the network,
    which is built (or loaded) after the shim, once its sizes are known.
    """

    @property
    def network(self) -> Optional[BiLSTMTagger]:
        return self._model

    @network.setter
    def network(self, network: Optional[BiLSTMTagger]) -> None:
        self._model = None if network is None else network.to(get_torch_default_device())

    def finish_update(self, optimizer: Optimizer) -> None:
        """PyTorchShim's, but writing the new weights into the parameters.
        PyTorchShim sets each parameter's data to a tensor made from the
        optimizer's array, itself a view of the previous data: every step
        added a link per parameter to a chain of tensors and arrays that was
        never freed, one reason why training memory grew without bound."""
        keep_mmap_threshold()  # the main reason: see heap.py
        for name, param in self._model.named_parameters():
            if param.grad is None:
                continue
            if not self._grad_scaler.found_inf:  # as thinc: skip steps that overflowed
                weights, _ = optimizer((self.id, name), torch2xp(param.data), torch2xp(param.grad))
                new = xp2torch(weights, device=param.device)
                if new.data_ptr() != param.data_ptr():  # thinc's optimizers work in place
                    param.data.copy_(new)
            param.grad.zero_()
        self._grad_scaler.update()

    @contextlib.contextmanager
    def use_params(self, params):
        averaged = {
            name: xp2torch(params[(self.id, name)], device=self.device)
            for name, _ in self._model.named_parameters()
            if (self.id, name) in params
        } if self._model is not None else {}
        if not averaged:
            yield
            return
        backup = {k: v.clone() for k, v in self._model.state_dict().items()}
        self._model.load_state_dict(averaged, strict=False)
        try:
            yield
        finally:
            self._model.load_state_dict(backup)


def init(model: Model, X: Optional[List[Doc]] = None, Y: Any = None) -> None:
    """Build the index tables from X (the training Docs) and the torch module.
    The component sets nO (and nP) from its labels first.
    """
    if X is None:
        raise ValueError("lstm_tagger: the model needs training Docs to initialize")
    if not model.has_dim("nO"):
        raise ValueError("lstm_tagger: the number of tags (nO) is unset")
    tables = IndexTables.from_docs(X, model.attrs["min_word_count"])
    model.attrs["tables"] = tables
    network = BiLSTMTagger(
        n_words=len(tables.words),
        n_chars=len(tables.chars),
        n_tags=model.get_dim("nO"),
        n_pos=model.get_dim("nP") if model.has_dim("nP") else 0,
        **model.attrs["network_sizes"],
    )
    model.shims[0].network = network


# Without these, thinc would skip the tables silently when saving (TypeError).
@serialize_attr.register(IndexTables)
def serialize_tables(_: IndexTables, tables: IndexTables, name: str, model: Model) -> bytes:
    return tables.to_bytes()


@deserialize_attr.register(IndexTables)
def deserialize_tables(_: IndexTables, data: bytes, name: str, model: Model) -> IndexTables:
    return IndexTables.from_bytes(data)


def is_ready(model: Model) -> bool:
    return model.shims[0].network is not None


def fresh_copy(model: Model) -> Model:
    """A copy of `model` to load a file into: its settings and sizes, but no index
    tables or network, so that nothing of `model`'s own can survive in it."""
    copy = model.copy()
    copy.shims[0].network = None
    copy.attrs["tables"] = IndexTables()
    for dim in ("nO", "nP"):
        copy.set_dim(dim, None, force=True)
    return copy


def run_network(model: Model, segments: List[Segment], is_train: bool):
    """One pass of rows through the torch network.
    RETURNS: the (n_tokens, n_labels) scores tensor and its backprop callback."""
    batch = featurize(segments, model.attrs["tables"], model.attrs["max_word_chars"])
    shim = model.shims[0]
    device = shim.device
    inputs = ArgsKwargs(
        args=(
            torch.from_numpy(batch.word_ids).to(device),
            torch.from_numpy(batch.type_ids).to(device),
            torch.from_numpy(batch.type_chars).to(device),
            torch.from_numpy(batch.lengths),  # stays on the CPU: it drives the loop
        ),
        kwargs={"group_size": model.attrs["group_size"]},
    )
    return shim(inputs, is_train)


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    """Docs -> index arrays -> tensors -> network -> one (n_tokens, n_labels)
    array of log-probabilities per Doc. A batch with many tokens (say one huge
    Doc) goes through the network in several passes, which bounds memory."""
    segments, token_order = cut_segments(docs, model.attrs["max_sequence"])
    passes = [
        run_network(model, part, is_train)
        for part in split_by_tokens(segments, TOKENS_PER_PASS)
    ]
    # The network scores tokens row by row; put them back in Doc order.
    flat = model.ops.xp.concatenate([model.ops.asarray(scores.detach()) for scores, _ in passes])
    flat = flat[token_order]
    per_doc = model.ops.xp.split(flat, numpy.cumsum([len(doc) for doc in docs])[:-1])

    def backprop(d_per_doc: List[Floats2d]) -> List[Doc]:
        d_flat = model.ops.alloc2f(*flat.shape)
        d_flat[token_order] = model.ops.xp.concatenate(d_per_doc)
        start = 0
        for scores, backprop_network in passes:
            d_scores = xp2torch(d_flat[start : start + len(scores)], device=scores.device)
            backprop_network(ArgsKwargs(args=(scores,), kwargs={"grad_tensors": (d_scores,)}))
            start += len(scores)
        return []  # index inputs carry no gradient back to the Docs

    return per_doc, backprop


def serialize_network(network: Optional[BiLSTMTagger]) -> bytes:
    """The module's sizes and weights as msgpack of plain arrays: no pickle."""
    if network is None:
        return srsly.msgpack_dumps({"format": WEIGHTS_FORMAT, "kwargs": None})
    tensors = {
        name: tensor.detach().cpu().numpy()
        for name, tensor in network.state_dict().items()
    }
    return srsly.msgpack_dumps(
        {"format": WEIGHTS_FORMAT, "kwargs": network.kwargs, "tensors": tensors}
    )


def deserialize_network(
    _network: Optional[BiLSTMTagger], data: bytes, device: "torch.device"
) -> Optional[BiLSTMTagger]:
    """Rebuild the module from its saved sizes and pour the weights in. Every
    name, type and shape is checked before the module is built, so a damaged or
    hostile blob gets a ValueError that says what is wrong.
    """
    try:
        msg = srsly.msgpack_loads(data)
    except Exception as err:  # msgpack has several error types for bad input
        raise ValueError(
            f"the weights are damaged or truncated ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(msg, dict) or msg.get("format") != WEIGHTS_FORMAT:
        raise ValueError(
            f"not an lstm_tagger weights blob (expected format {WEIGHTS_FORMAT!r})"
        )
    kwargs, tensors = msg.get("kwargs"), msg.get("tensors")
    if kwargs is None:
        return None
    if not isinstance(kwargs, dict) or not isinstance(tensors, dict):
        raise ValueError("the weights blob lacks the network's sizes or its tensors")
    try:
        # On the meta device nothing is allocated, so exaggerated sizes are harmless.
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in BiLSTMTagger(**kwargs).state_dict().items()}
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"the weights have invalid network sizes {kwargs!r} ({err})") from None
    missing, unexpected = sorted(set(shapes) - set(tensors)), sorted(set(tensors) - set(shapes))
    if missing or unexpected:
        raise ValueError(
            f"the weights do not fit the network: missing {missing}, unexpected {unexpected}"
        )
    state = {}
    for name, shape in shapes.items():
        array = tensors[name]
        if not isinstance(array, numpy.ndarray) or array.dtype.name not in ALLOWED_DTYPES:
            raise ValueError(f"weights entry {name!r} is not a numeric array")
        if array.shape != shape:
            raise ValueError(
                f"weights entry {name!r} has shape {array.shape}, the saved sizes need {shape}"
            )
        state[name] = torch.from_numpy(array.copy())
    network = BiLSTMTagger(**kwargs)
    network.load_state_dict(state)
    return network.to(device)


def check_loaded(model: Model, config_model: Model) -> None:
    """Raise ValueError, saying what disagrees, unless `model` (just loaded) has
    index tables that fit its weights, and weights of the sizes `config_model`
    (built from the config) asks for.
    """
    network = model.shims[0].network
    tables = model.attrs.get("tables")
    if not isinstance(tables, IndexTables):
        raise ValueError("the index tables are missing")
    if network is None:
        if tables.is_built:
            raise ValueError("the file has index tables but no weights")
        return
    if not tables.is_built:
        raise ValueError("the index tables are missing (the file has weights only)")
    saved = network.kwargs
    if (saved["n_words"], saved["n_chars"]) != (len(tables.words), len(tables.chars)):
        raise ValueError(
            f"the index tables ({len(tables.words)} words, {len(tables.chars)} "
            f"characters) do not fit the weights ({saved['n_words']} words, "
            f"{saved['n_chars']} characters)"
        )
    dims = tuple(model.get_dim(d) if model.has_dim(d) else None for d in ("nO", "nP"))
    if dims != (saved["n_tags"], saved["n_pos"]):
        raise ValueError(f"the output sizes {dims} do not fit the weights")
    sizes = config_model.attrs["network_sizes"]
    # Every setting but the rates fixes the weights' shapes.
    wrong = [
        f"{k}={saved.get(k)} (config: {v})"
        for k, v in sizes.items()
        if k not in ("dropout", "word_dropout") and saved.get(k) != v
    ]
    if wrong:
        raise ValueError("the weights are of another architecture size: " + ", ".join(wrong))
