"""The thinc model: Docs -> index arrays -> torch tensors -> BiLSTMTagger -> scores.

`TaggerModel` owns the model's contract: its settings, the index tables, the
torch network and the file that holds them. A model file is loaded into a blank
copy and checked there, so that a component can swap it in only when it is good.
The network sits in thinc's PyTorchShim, so that spaCy's optimizer, parameter
averages and device handling work as for any spaCy model; `forward` runs the
network itself, with the conversions written out in one place.
"""
import contextlib
import inspect
from dataclasses import asdict, fields
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy
import srsly
import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, Optimizer, PyTorchShim, get_torch_default_device
from thinc.types import Floats2d
from thinc.util import torch2xp, xp2torch

from .featurize import IndexTables, Segment, cut_segments, featurize, split_by_tokens
from .heap import keep_mmap_threshold
from .network import BiLSTMTagger, NetworkShape
from .onnx_engine import InferenceLSTM
from .precision import TaggingNetwork
from .settings import SETTINGS, SHAPE_SETTINGS, TOKENS_PER_PASS, ModelSettings, settings_docstring

MODEL_FORMAT = "spacy-lstm-tagger-model/2"
# Only plain numeric tensors may come from a model file (no pickle, no objects).
ALLOWED_DTYPES = {"float32", "float16", "float64"}
# A network built from the config may not be larger than this (4 GB of float32).
MAX_PARAMETERS = 10**9
# Far beyond what training gives (the saved test pipeline's largest weight is
# 0.54); scores from weights this large overflow into NaN or one label for all.
MAX_WEIGHT = 1e4


class ModelFileError(ValueError):
    """A model file (or component cfg) that cannot be loaded, and why."""


@registry.architectures("spacy_lstm_tagger.LSTMTagger.v1")
def build_lstm_tagger(**settings) -> "TaggerModel":
    return TaggerModel(ModelSettings(**settings))


# The signature and docstring come from SETTINGS, so that spaCy's config
# fills in and checks exactly the settings that exist, with their defaults.
build_lstm_tagger.__signature__ = inspect.Signature(
    [
        inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=s.default, annotation=s.type)
        for s in SETTINGS
    ],
    return_annotation="TaggerModel",
)
build_lstm_tagger.__doc__ = (
    "A BiLSTM tagger over word embeddings and character-CNN features.\n\n"
    + settings_docstring()
    + "\nRETURNS (TaggerModel): probabilities per token, each head's in the "
    "columns its OutputLayout gives. Not usable before `build` or loading."
)


def network_shape(
    settings: ModelSettings, n_words: int, n_chars: int, n_tags: int, n_pos: int, extra_heads: Sequence[int] = ()
) -> NetworkShape:
    return NetworkShape(
        n_words, n_chars, n_tags, n_pos, **{name: getattr(settings, name) for name in SHAPE_SETTINGS},
        extra_heads=tuple(extra_heads),
    )


class TaggerModel(Model):
    """A thinc Model that owns the tagger's settings, index tables and torch
    network, and the file format that stores the tables and the network."""

    def __init__(self, settings: ModelSettings):
        super().__init__(
            "lstm_tagger",
            forward,
            attrs={"settings": settings, "tables": IndexTables()},
            shims=[TaggerShim(None)],
            # The number of tags, as spaCy's tagger model reports it; set when
            # the network is built or loaded.
            dims={"nO": None},
        )
        self.inference_lstm = InferenceLSTM(settings.engine)
        self._tagging_network = TaggingNetwork(settings.precision, settings.engine)

    @property
    def settings(self) -> ModelSettings:
        return self.attrs["settings"]

    @property
    def tables(self) -> IndexTables:
        return self.attrs["tables"]

    @property
    def network(self) -> Optional[BiLSTMTagger]:
        return self.shims[0].network

    def tagging_network(self) -> BiLSTMTagger:
        """The network that tagging runs: `network`, or its copy in the
        number type of the `precision` setting."""
        return self._tagging_network.get(self.network, self.shims[0].updates)

    @property
    def is_ready(self) -> bool:
        """Whether the model has tables and a network, i.e. can predict."""
        return self.network is not None

    @property
    def shape(self) -> Optional[NetworkShape]:
        return None if self.network is None else self.network.shape

    def blank_copy(self) -> "TaggerModel":
        """A model with the same settings and nothing else, to build or load into."""
        return TaggerModel(self.settings)

    def build(self, docs: List[Doc], n_tags: int, n_pos: int, extra_heads: Sequence[int] = ()) -> "TaggerModel":
        """Make the index tables from `docs` and a new network with `n_tags` tag
        and `n_pos` UPOS outputs, and heads of `extra_heads` labels after them
        (features, lemma rules). Raises ValueError for sizes beyond reason."""
        tables = IndexTables.from_docs(docs, self.settings.min_word_count)
        shape = network_shape(
            self.settings, len(tables.words), len(tables.chars), n_tags, n_pos, extra_heads
        )
        problems = shape.problems()
        if not problems and shape.n_parameters() > MAX_PARAMETERS:
            problems = [f"{shape.n_parameters():,} weights (more than {MAX_PARAMETERS:,})"]
        if problems:
            raise ValueError("the network would have " + "; ".join(problems))
        self._set(tables, BiLSTMTagger(shape))
        return self

    def _set(self, tables: IndexTables, network: BiLSTMTagger) -> None:
        # The rates are the config's, whatever the model was trained with.
        network.dropout = self.settings.dropout
        network.word_dropout = self.settings.word_dropout
        network.extra_gradient = self.settings.feature_lemma_gradient
        network.eval()  # see train_network
        self.attrs["tables"] = tables
        self.shims[0].network = network
        self.set_dim("nO", network.shape.n_tags, force=True)

    def to_bytes(self) -> bytes:
        """The tables, the network's shape and its weights as msgpack of plain
        strings, numbers and arrays: no pickle."""
        msg: Dict[str, Any] = {"format": MODEL_FORMAT, "shape": None}
        if self.network is not None:
            msg["shape"] = asdict(self.network.shape)
            if not msg["shape"]["extra_heads"]:  # as files without extra heads always were
                del msg["shape"]["extra_heads"]
            msg["tables"] = self.tables.to_bytes()
            msg["tensors"] = {
                name: tensor.detach().cpu().numpy()
                for name, tensor in self.network.state_dict().items()
            }
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, bytes_data: bytes) -> "TaggerModel":
        """Load a model file into this (blank) model. Everything is checked before
        the network is built, and anything wrong raises ModelFileError, saying what.
        RETURNS (TaggerModel): the model, loaded."""
        if self.is_ready:
            raise ValueError("load a model file into a blank_copy(), not into a built model")
        try:
            msg = srsly.msgpack_loads(bytes_data)
        except Exception as err:  # msgpack has several error types for bad input
            raise ModelFileError(
                f"the file is damaged or truncated ({type(err).__name__}: {err})"
            ) from None
        if isinstance(msg, dict) and "nodes" in msg:  # thinc's layout, before format 2
            raise ModelFileError("the file is of an older spacy-lstm-tagger: train the model again")
        if not isinstance(msg, dict) or msg.get("format") != MODEL_FORMAT:
            raise ModelFileError(f"not an lstm_tagger model file (expected format {MODEL_FORMAT!r})")
        if msg.get("shape") is None:
            if "tensors" in msg or "tables" in msg:
                raise ModelFileError("the network's sizes are missing")
            return self  # saved before it was initialized
        shape = self._read_shape(msg["shape"], len(bytes_data))
        tables = _read_tables(msg.get("tables"), shape)
        network = BiLSTMTagger(shape)
        network.load_state_dict(_read_tensors(msg.get("tensors"), network))
        self._set(tables, network.to(get_torch_default_device()))
        return self

    def _read_shape(self, saved: Any, file_size: int) -> NetworkShape:
        names = [field.name for field in fields(NetworkShape)]
        if isinstance(saved, dict):
            # Files from before these settings existed hold one CNN, no edges,
            # no heads beyond tag and UPOS.
            saved = {"char_kernels": 1, "char_edges": 0, "extra_heads": [], **saved}
            if isinstance(saved["extra_heads"], list):  # msgpack reads tuples as lists
                saved["extra_heads"] = tuple(saved["extra_heads"])
        if not isinstance(saved, dict) or sorted(saved) != sorted(names):
            raise ModelFileError(
                f"the network's sizes are damaged: expected {names}, got {saved!r:.300}"
            )
        shape = NetworkShape(**saved)
        problems = shape.problems()
        if problems:
            raise ModelFileError("invalid network sizes: " + "; ".join(problems))
        # Every weight takes at least two bytes in the file: larger sizes are a
        # lie, found without building anything.
        if shape.n_parameters() * 2 > file_size:
            raise ModelFileError(
                f"the network's sizes need {shape.n_parameters():,} weights, more than "
                f"a file of {file_size:,} bytes holds"
            )
        wrong = [
            f"{name}={getattr(shape, name)} (config: {getattr(self.settings, name)})"
            for name in SHAPE_SETTINGS
            if getattr(shape, name) != getattr(self.settings, name)
        ]
        if wrong:
            raise ModelFileError("the weights are of another architecture size: " + ", ".join(wrong))
        return shape


def _read_tables(saved: Any, shape: NetworkShape) -> IndexTables:
    if not isinstance(saved, bytes):
        raise ModelFileError("the index tables are missing")
    try:
        tables = IndexTables.from_bytes(saved)
    except ValueError as err:  # IndexTables.from_bytes says what is wrong
        raise ModelFileError(str(err)) from None
    if (len(tables.words), len(tables.chars)) != (shape.n_words, shape.n_chars):
        raise ModelFileError(
            f"the index tables ({len(tables.words)} words, {len(tables.chars)} characters) "
            f"do not fit the weights ({shape.n_words} words, {shape.n_chars} characters)"
        )
    return tables


def _read_tensors(saved: Any, network: BiLSTMTagger) -> Dict[str, torch.Tensor]:
    """The saved weights as tensors, checked against the network's own."""
    if not isinstance(saved, dict):
        raise ModelFileError("the weights are missing")
    shapes = {name: tuple(tensor.shape) for name, tensor in network.state_dict().items()}
    missing, unexpected = sorted(set(shapes) - set(saved)), sorted(set(saved) - set(shapes))
    if missing or unexpected:
        raise ModelFileError(
            f"the weights do not fit the network: missing {missing}, unexpected {unexpected}"
        )
    state = {}
    for name, shape in shapes.items():
        array = saved[name]
        if not isinstance(array, numpy.ndarray) or array.dtype.name not in ALLOWED_DTYPES:
            raise ModelFileError(f"weights entry {name!r} is not a numeric array")
        if array.shape != shape:
            raise ModelFileError(
                f"weights entry {name!r} has shape {array.shape}, the saved sizes need {shape}"
            )
        if not numpy.isfinite(array).all():
            raise ModelFileError(f"weights entry {name!r} contains NaN or infinite values")
        largest = float(numpy.abs(array).max()) if array.size else 0.0
        if largest > MAX_WEIGHT:
            raise ModelFileError(
                f"weights entry {name!r} holds a value of magnitude {largest:.3g}, "
                f"more than any trained network has ({MAX_WEIGHT:g})"
            )
        state[name] = torch.from_numpy(array.astype("float32"))
    return state


class TaggerShim(PyTorchShim):
    """thinc's PyTorchShim, able to swap in the optimizer's parameter averages.

    thinc's optimizer keys a torch parameter's average by (shim id, name), but
    PyTorchShim.use_params looks for string keys, so with it the averages would
    silently never be used, in `spacy train` either. The model runs the network
    itself (see `encode_docs` and `train_network`); the shim holds it for the optimizer.
    `updates` counts the optimizer's steps, which write the weights in place
    unseen by torch (see `TaggingNetwork`).
    """

    updates = 0

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
        self.updates += 1
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


def softmax_per_head(scores: torch.Tensor, head_sizes: List[int]) -> torch.Tensor:
    """Each head's block of columns normalised on its own into probabilities."""
    blocks = torch.split(scores, head_sizes, dim=1)
    return torch.cat([torch.softmax(block, dim=1) for block in blocks], dim=1)


def network_inputs(model: TaggerModel, segments: List[Segment]) -> Tuple[torch.Tensor, ...]:
    """Segments -> index arrays -> the network's input tensors."""
    batch = featurize(segments, model.tables, model.settings.max_word_chars)
    device = model.shims[0].device
    return (
        torch.from_numpy(batch.word_ids).to(device),
        torch.from_numpy(batch.type_ids).to(device),
        torch.from_numpy(batch.type_chars).to(device),
        torch.from_numpy(batch.lengths),  # stays on the CPU: it drives the loop
    )


def encode_docs(model: TaggerModel, docs: List[Doc], network: Optional[BiLSTMTagger] = None) -> torch.Tensor:
    """The BiLSTM's output for every token of `docs`, Doc after Doc: an
    (n_tokens, 2 * hidden_width) tensor that the output layers of `network`
    (default: `model.tagging_network()`) read (`network.score`). A batch
    with many tokens (say one huge Doc) goes through the network in several
    passes, which bounds memory.

    It runs under inference_mode and changes no state, so that threads
    sharing the model never see each other's passes. Dropout is an argument of
    the network, not its mode."""
    network = model.tagging_network() if network is None else network
    segments, token_order = cut_segments(docs, model.settings.max_sequence)
    lstm = model.inference_lstm.get(network.bilstm)
    with torch.inference_mode():
        passes = [
            network.encode(*network_inputs(model, part), group_size=model.settings.group_size, lstm=lstm)
            for part in split_by_tokens(segments, TOKENS_PER_PASS)
        ]  # at least one: split_by_tokens gives an empty part for no segments
        # The network encodes tokens row by row; put them back in Doc order
        # (index_select: a few times faster than indexing with a tensor).
        hidden = torch.cat(passes)
        return hidden.index_select(0, torch.from_numpy(token_order).to(hidden.device))


def train_network(model: TaggerModel, segments: List[Segment]):
    """One training pass of rows through the torch network.
    RETURNS: the (n_tokens, n_labels) probabilities, each head's block
        normalised on its own, and the backprop callback, which takes the
        gradient with respect to the scores before the softmax (as thinc's
        Softmax layer does, and as spaCy's losses give it: probabilities
        minus targets).

    The module's mode matters only to cuDNN's LSTM, which needs train() for a
    backward pass; dropout is an argument of the network."""
    network = model.network
    network.train()
    try:
        scores = network(*network_inputs(model, segments), group_size=model.settings.group_size, train=True)
    finally:
        network.eval()

    def backprop(d_scores: torch.Tensor) -> None:
        torch.autograd.backward(scores, grad_tensors=d_scores)

    with torch.no_grad():
        probs = softmax_per_head(scores, network.head_sizes())
    return probs, backprop


def forward(model: TaggerModel, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    """Docs -> index arrays -> tensors -> network -> one (n_tokens, n_labels)
    array of probabilities per Doc, each head's columns normalised on its own.
    A batch with many tokens (say one huge Doc) goes through the network in
    several passes, which bounds memory.

    The backprop callback takes the gradient with respect to the scores before
    the softmax (spaCy's "probabilities minus targets", summed over tokens) and
    divides it by the batch's tokens: the model learns from the mean over
    tokens, so that a learning rate means the same for any batch size."""
    split_at = numpy.cumsum([len(doc) for doc in docs])[:-1]
    if not is_train:
        network = model.tagging_network()
        with torch.inference_mode():
            scores = network.score(encode_docs(model, docs, network)).float()
            probs = softmax_per_head(scores, network.head_sizes())
        return model.ops.xp.split(torch2xp(probs), split_at), no_backprop
    segments, token_order = cut_segments(docs, model.settings.max_sequence)
    passes = [train_network(model, part) for part in split_by_tokens(segments, TOKENS_PER_PASS)]
    # The network scores tokens row by row; put them back in Doc order.
    flat = model.ops.xp.concatenate([torch2xp(scores.detach()) for scores, _ in passes])
    flat = flat[token_order]
    per_doc = model.ops.xp.split(flat, split_at)

    def backprop(d_per_doc: List[Floats2d]) -> List[Doc]:
        d_flat = model.ops.alloc2f(*flat.shape)
        d_flat[token_order] = model.ops.xp.concatenate(d_per_doc) / max(1, len(flat))
        start = 0
        for scores, backprop_pass in passes:
            backprop_pass(xp2torch(d_flat[start : start + len(scores)], device=scores.device))
            start += len(scores)
        return []  # index inputs carry no gradient back to the Docs

    return per_doc, backprop


def no_backprop(d_per_doc: List[Floats2d]) -> List[Doc]:
    raise ValueError("the model ran without is_train: there is nothing to backpropagate")
