"""The thinc model: Docs -> index arrays -> torch tensors -> BiLSTMTagger -> scores.

The torch module sits in thinc's PyTorchShim, so that spaCy's optimizer and
device handling work as for any spaCy model; `forward` plays the part of
PyTorchWrapper's, with the conversions written out in one place. The module's
size depends on the index tables and the labels, so it is built in `init`, and
rebuilt from the saved sizes when loading.
"""
from typing import Any, Callable, List, Optional, Tuple

import numpy
import srsly
import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, PyTorchShim, deserialize_attr, get_torch_default_device
from thinc.api import serialize_attr
from thinc.types import ArgsKwargs, Floats2d
from thinc.util import xp2torch

from .featurize import IndexTables, featurize
from .network import BiLSTMTagger

WEIGHTS_FORMAT = "spacy-lstm-tagger-weights/1"
# Only plain numeric tensors may come from a model file (no pickle, no objects).
ALLOWED_DTYPES = {"float32", "float16", "float64", "int64", "bool"}


@registry.architectures("spacy_lstm_tagger.LSTMTagger.v1")
def build_lstm_tagger(
    word_width: int = 100,
    char_width: int = 32,
    char_features: int = 64,
    hidden_width: int = 128,
    depth: int = 1,
    dropout: float = 0.3,
    word_dropout: float = 0.1,
    min_word_count: int = 1,
    max_word_chars: int = 20,
    max_sequence: int = 256,
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
    shim = PyTorchShim(
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
        },
        shims=[shim],
    )


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
    shim = model.shims[0]
    # The shim was created without a module, since its sizes were unknown.
    shim._model = network.to(get_torch_default_device())


# Without these, thinc would skip the tables silently when saving (TypeError).
@serialize_attr.register(IndexTables)
def serialize_tables(_: IndexTables, tables: IndexTables, name: str, model: Model) -> bytes:
    return tables.to_bytes()


@deserialize_attr.register(IndexTables)
def deserialize_tables(_: IndexTables, data: bytes, name: str, model: Model) -> IndexTables:
    return IndexTables.from_bytes(data)


def is_ready(model: Model) -> bool:
    return model.shims[0]._model is not None


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    """Docs -> index arrays -> tensors -> network -> one (n_tokens, n_labels)
    array of log-probabilities per Doc."""
    batch = featurize(
        docs,
        model.attrs["tables"],
        model.attrs["max_word_chars"],
        model.attrs["max_sequence"],
    )
    shim = model.shims[0]
    device = shim.device
    inputs = ArgsKwargs(
        args=(
            torch.from_numpy(batch.word_ids).to(device),
            torch.from_numpy(batch.type_ids).to(device),
            torch.from_numpy(batch.type_chars).to(device),
            torch.from_numpy(batch.lengths),  # packing wants lengths on the CPU
        ),
        kwargs={},
    )
    scores, backprop_network = shim(inputs, is_train)
    # Selecting the real tokens of all segment rows gives all tokens in Doc order.
    mask = batch.token_mask
    flat = model.ops.asarray(scores.detach())[mask]
    per_doc = model.ops.xp.split(flat, numpy.cumsum(batch.doc_lengths)[:-1])

    def backprop(d_per_doc: List[Floats2d]) -> List[Doc]:
        d_padded = model.ops.alloc3f(*scores.shape)
        d_padded[mask] = model.ops.xp.concatenate(d_per_doc)
        d_scores = xp2torch(d_padded, device=scores.device)
        backprop_network(ArgsKwargs(args=(scores,), kwargs={"grad_tensors": (d_scores,)}))
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
    """Rebuild the module from its saved sizes and pour the weights in."""
    msg = srsly.msgpack_loads(data)
    if not isinstance(msg, dict) or msg.get("format") != WEIGHTS_FORMAT:
        raise ValueError(
            f"not an lstm_tagger weights blob (expected format {WEIGHTS_FORMAT!r})"
        )
    if msg["kwargs"] is None:
        return None
    network = BiLSTMTagger(**msg["kwargs"])
    state = {}
    for name, array in msg["tensors"].items():
        if not isinstance(array, numpy.ndarray) or array.dtype.name not in ALLOWED_DTYPES:
            raise ValueError(f"weights entry {name!r} is not a numeric array")
        state[name] = torch.from_numpy(array.copy())
    network.load_state_dict(state)
    return network.to(device)
