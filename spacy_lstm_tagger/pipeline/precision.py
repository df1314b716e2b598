"""The number type that tagging computes in (`precision`).

On a CPU with bfloat16 instructions (AVX512-BF16, AMX), the network's word
embeddings, BiLSTM and output layers in bfloat16 tag about 1.5 times as fast as
in float32, with the same labels for all but about one token in a thousand or
fewer (BENCHMARKS.md). Training always computes in float32: the optimizer
updates the float32 network, and tagging runs a copy of it, made again whenever
the weights have changed.
"""
import copy
import functools
from typing import Optional, Tuple

import torch

from .network import BiLSTMTagger


@functools.lru_cache(maxsize=None)
def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 numbers in hardware (AVX512-BF16
    or AMX). Elsewhere torch has to emulate bfloat16."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def tagging_dtype(precision: str, engine: str, device: torch.device) -> torch.dtype:
    """The dtype that tagging computes in. "auto" is bfloat16 only where it is
    the faster: on a CPU with bfloat16 instructions, with torch running the
    BiLSTM (ONNX Runtime computes in float32)."""
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "auto" and engine == "torch" and device.type == "cpu" and native_bfloat16():
        return torch.bfloat16
    return torch.float32


class TaggingNetwork:
    """The network that tagging runs for a model's `precision`: the network
    itself in float32, else its `low_precision_copy` in bfloat16, kept while
    its weights stay the same. Threads share the copy; a forked child may
    keep using it. No lock: two threads that find the copy out of date at
    once each make one, equal, and keep the one they made; a lock held by
    another thread at a fork would stay held in the child.

    A change of weights is seen by the network's identity, torch's version
    counter of each parameter (in-place torch operations, load_state_dict,
    `use_params`) and `updates`, which the caller counts: thinc's optimizer
    writes the weights in place through numpy, which torch does not see.
    """

    def __init__(self, precision: str, engine: str):
        self.precision = precision
        self.engine = engine
        # (the float32 network, its weights' key, the copy)
        self._built: Optional[Tuple[BiLSTMTagger, tuple, BiLSTMTagger]] = None

    def get(self, network: BiLSTMTagger, updates: int) -> BiLSTMTagger:
        device = next(network.parameters()).device
        dtype = tagging_dtype(self.precision, self.engine, device)
        if dtype == torch.float32:
            return network
        key = (updates, tuple(param._version for param in network.parameters()))
        built = self._built
        if not _made_from(built, network, key):
            built = self._built = (network, key, low_precision_copy(network, dtype))
        return built[2]


def _made_from(built: Optional[tuple], network: BiLSTMTagger, key: tuple) -> bool:
    return built is not None and built[0] is network and built[1] == key


def low_precision_copy(network: BiLSTMTagger, dtype: torch.dtype) -> BiLSTMTagger:
    """A copy of `network` whose word embeddings, BiLSTM and output layers
    are in `dtype`. The character layers stay in float32: a single sentence
    gives them a word or two of each length, and on such small inputs
    oneDNN's bfloat16 convolution costs more per call than float32's
    (single Greek sentences tagged 11% slower with it, 12% faster without)."""
    low = copy.deepcopy(network)
    for layer in (low.word_embed, low.bilstm, low.tag_head, low.pos_head, low.extra_head):
        if layer is not None:
            layer.to(dtype)
    low.requires_grad_(False)
    return low
