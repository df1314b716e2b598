"""The BiLSTM on ONNX Runtime, for tagging (`engine = "onnx"`).

The graph is built in memory from the torch network's weights, so model files
stay plain arrays: one ONNX `LSTM` node per layer, bidirectional, with each
row's length (`sequence_lens`), which runs the backward direction within each
row's length exactly as `network.BiLSTM` does. Training always runs on torch,
and so does tagging with more than one torch thread: ONNX Runtime's LSTM is
the faster at one thread only (on EWT at two threads, torch tagged 2.2x faster
than ONNX Runtime did; BENCHMARKS.md).

onnxruntime's dynamic int8 quantization is faster still, but it quantizes each
call's inputs with one scale for the whole batch, so a sentence's scores would
depend on the other sentences of its batch: not offered.
"""
import functools
import os
import threading
import warnings
from typing import List, Optional, Tuple

import numpy
import torch

from .network import BiLSTM

# Sessions that a forked child inherited: never used, and never freed, since
# freeing one waits for its threads, which fork did not copy.
_INHERITED: List["OnnxBiLSTM"] = []
# The graph's operator set, and the lowest IR version that carries it (onnx's
# versioning table). onnx stamps its own, newest IR version by default, which
# an older onnxruntime refuses to read ("Unsupported model IR version").
OPSET = 17
IR_VERSION = 8


@functools.lru_cache(maxsize=None)
def _runtime():
    """(onnx, onnxruntime), or None where either is not installed."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        return None
    return onnx, onnxruntime


class OnnxBiLSTM:
    """A `BiLSTM`'s weights as an ONNX Runtime session: called like the
    BiLSTM at inference, (rows (B, T, width), lengths (B,)) -> (B, T, 2 * hidden)."""

    def __init__(self, bilstm: BiLSTM):
        onnx, onnxruntime = _runtime()
        model = _graph(onnx, bilstm)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # no notes about the graph on stderr
        self.session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, rows: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        inputs = {
            "rows": rows.cpu().numpy().transpose(1, 0, 2).copy(),  # ONNX is time-major
            "lengths": lengths.numpy().astype("int32"),
        }
        (hidden,) = self.session.run(None, inputs)
        return torch.from_numpy(numpy.ascontiguousarray(hidden.transpose(1, 0, 2))).to(rows.device)


def _graph(onnx, bilstm: BiLSTM):
    """The ONNX model of a BiLSTM: rows (T, B, width), lengths (B,) -> (T, B, 2 * hidden)."""
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    hidden = bilstm.forward_layers[0].hidden_size
    nodes, weights = [], []
    name = "rows"
    for i, directions in enumerate(zip(bilstm.forward_layers, bilstm.backward_layers)):
        layer = {
            "W": [_gates(lstm.weight_ih_l0) for lstm in directions],
            "R": [_gates(lstm.weight_hh_l0) for lstm in directions],
            "B": [numpy.concatenate([_gates(lstm.bias_ih_l0), _gates(lstm.bias_hh_l0)]) for lstm in directions],
        }
        weights += [numpy_helper.from_array(numpy.stack(v), f"{k}{i}") for k, v in layer.items()]
        # (T, 2, B, hidden) -> (T, B, 2, hidden) -> (T, B, 2 * hidden): forward then backward.
        nodes += [
            helper.make_node("LSTM", [name, f"W{i}", f"R{i}", f"B{i}", "lengths"], [f"both{i}"],
                             direction="bidirectional", hidden_size=hidden),
            helper.make_node("Transpose", [f"both{i}"], [f"pairs{i}"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [f"pairs{i}", "width"], [f"out{i}"]),
        ]
        name = f"out{i}"
    weights.append(numpy_helper.from_array(numpy.array([0, 0, 2 * hidden], dtype="int64"), "width"))
    nodes[-1].output[0] = "hidden"
    width = bilstm.forward_layers[0].input_size
    graph = helper.make_graph(
        nodes,
        "bilstm",
        [helper.make_tensor_value_info("rows", onnx.TensorProto.FLOAT, ["T", "B", width]),
         helper.make_tensor_value_info("lengths", onnx.TensorProto.INT32, ["B"])],
        [helper.make_tensor_value_info("hidden", onnx.TensorProto.FLOAT, ["T", "B", 2 * hidden])],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def _gates(weight: torch.Tensor) -> numpy.ndarray:
    """torch's gate order (input, forget, cell, output) -> ONNX's (input, output, forget, cell)."""
    i, f, g, o = weight.detach().cpu().float().chunk(4, 0)
    return torch.cat([i, o, f, g]).numpy()


class InferenceLSTM:
    """The BiLSTM that tagging runs on, for a model's `engine` setting: None
    for torch (also with more than one torch thread, and, after a one-line
    warning, where onnxruntime is missing or cannot make a session of the
    graph), else an OnnxBiLSTM of the network's current weights. A session is rebuilt when the weights change (training,
    averaged weights) and in a forked child (a session's threads do not
    survive a fork); threads share it."""

    def __init__(self, engine: str):
        self.engine = engine
        self._lock = threading.Lock()
        # (process id, the weights it was built from, session)
        self._built: Optional[Tuple[int, List[torch.Tensor], OnnxBiLSTM]] = None
        self._warned = False
        # Set once a session could not be made: the runtime will not read
        # the graph for new weights either.
        self._refused = False

    def get(self, bilstm: BiLSTM) -> Optional[OnnxBiLSTM]:
        if self.engine == "torch" or self._refused or torch.get_num_threads() > 1:
            return None
        if _runtime() is None:
            self._warn(
                f'engine "{self.engine}" needs onnxruntime and onnx (pip install '
                '"spacy-lstm-tagger[onnx]"); tagging with torch instead'
            )
            return None
        pid = os.getpid()
        weights = [p.detach() for p in bilstm.parameters()]
        built = self._built
        if not _built_from(built, pid, weights):
            with self._lock:
                built = self._built
                if not _built_from(built, pid, weights):
                    if built is not None and built[0] != pid:
                        _INHERITED.append(built[2])
                    snapshot = [w.clone() for w in weights]
                    try:
                        session = OnnxBiLSTM(bilstm)
                    except Exception as err:  # onnxruntime's errors share no base class
                        self._refused = True
                        self._warn(
                            f'engine "{self.engine}": onnxruntime {_runtime()[1].__version__} cannot '
                            f"run the BiLSTM's graph ({type(err).__name__}: {_first_line(err)}); "
                            "tagging with torch instead"
                        )
                        return None
                    built = (pid, snapshot, session)
                    self._built = built
        return built[2]

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(message)


def _first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else "no message"


def _built_from(built: Optional[tuple], pid: int, weights: List[torch.Tensor]) -> bool:
    """Whether `built` is a session of this process and these weights.
    The weights are compared, not tracked: thinc's optimizer writes them in
    place through numpy, which torch's version counters do not see (about
    0.1 ms a batch)."""
    return (
        built is not None
        and built[0] == pid
        and all(torch.equal(w, old) for w, old in zip(weights, built[1]))
    )
