"""Each head's probabilities for a batch of tokens, as the annotations step
reads them: from the table that `predict` returns (`ProbabilityTable`), or
computed from the BiLSTM's output for only the heads and tokens that are
written (`EncodedTokens`, what `nlp(text)` and `nlp.pipe` use). With a lemma
lookup most tokens never need the lemma head, whose hundreds of columns cost
more than the LSTM.
"""
from typing import Dict

import numpy
import torch

from .layout import OutputLayout
from .network import BiLSTMTagger


class ProbabilityTable:
    """Heads' probabilities read from an (n_tokens, layout.n_columns) array."""

    def __init__(self, flat: numpy.ndarray, layout: OutputLayout):
        self.flat = flat
        self.layout = layout

    def probs(self, name: str) -> numpy.ndarray:
        """(n_tokens, labels) probabilities of head `name`."""
        return self.flat[:, self.layout[name].columns]

    def rows(self, name: str, rows: numpy.ndarray) -> numpy.ndarray:
        """(len(rows), labels) probabilities of head `name` for those tokens."""
        return self.flat[rows, self.layout[name].columns]


class EncodedTokens:
    """Heads' probabilities computed from `encode_docs`' output when asked
    for, each head's once; `rows` scores only the tokens asked for.

    Use it from one thread: it is made and read within one batch."""

    def __init__(self, network: BiLSTMTagger, hidden: torch.Tensor, layout: OutputLayout):
        self.network = network
        self.hidden = hidden
        self.layout = layout
        self._probs: Dict[str, numpy.ndarray] = {}

    def probs(self, name: str) -> numpy.ndarray:
        if name not in self._probs:
            self._probs[name] = self._softmax(self.hidden, name)
        return self._probs[name]

    def rows(self, name: str, rows: numpy.ndarray) -> numpy.ndarray:
        if name in self._probs:
            return self._probs[name][rows]
        index = torch.from_numpy(numpy.asarray(rows, dtype="int64")).to(self.hidden.device)
        return self._softmax(self.hidden.index_select(0, index), name)

    def _softmax(self, hidden: torch.Tensor, name: str) -> numpy.ndarray:
        with torch.inference_mode():
            scores = self.network.score(hidden, self.layout[name].columns)
            return torch.softmax(scores.float(), dim=1).cpu().numpy()
