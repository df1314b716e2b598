"""The PyTorch network: word and character features -> BiLSTM -> scores per label.

It grows the LSTMTagger of PyTorch's "Sequence Models and LSTM Networks" tutorial
(embedding -> LSTM -> linear -> log-softmax; here the softmax is the model's, see
model.py): character CNNs per word type (the
tutorial's exercise), a bidirectional multi-layer LSTM over whole batches in
length-sorted groups, word dropout to train the unknown-word vector, and
optional heads for UPOS, morphological features and lemma rules.
"""
from dataclasses import dataclass, fields
from typing import Any, Callable, List, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional

from .settings import BY_NAME, whole_number_problems

PAD = 0
UNKNOWN = 1
# (lowest, highest or None) of the sizes that come from the data; the others'
# are their settings' (settings.py).
DATA_SIZE_RANGES = {"n_words": (2, None), "n_chars": (2, None), "n_tags": (1, None), "n_pos": (0, None)}


@dataclass(frozen=True)
class NetworkShape:
    """The sizes that fix the shapes of a network's weights: written once into
    the model file, and the network is rebuilt from them.

    n_words (int): rows of the word table, padding and unknown included.
    n_chars (int): rows of the character table, padding and unknown included.
    n_tags (int): number of XPOS labels (`token.tag_`).
    n_pos (int): number of UPOS labels (`token.pos_`); 0 for no UPOS head.
    word_width (int): width of the word embedding.
    char_width (int): width of the character embedding.
    char_features (int): filters of each character CNN.
    hidden_width (int): LSTM hidden size of each direction.
    depth (int): number of stacked BiLSTM layers.
    char_kernels (int): number of character CNNs, over windows of 3, 5, 7...
        characters; a word's character feature is char_kernels * char_features wide.
    extra_heads (Tuple[int, ...]): the number of labels of each head after the
        tag and UPOS heads (features, lemma rules), in column order; one output
        layer scores them all.
    """

    n_words: int
    n_chars: int
    n_tags: int
    n_pos: int
    word_width: int
    char_width: int
    char_features: int
    hidden_width: int
    depth: int
    char_kernels: int = 1
    char_edges: int = 0
    extra_heads: Tuple[int, ...] = ()

    def char_windows(self) -> List[int]:
        """The window of each character CNN: 3, 5, 7..."""
        return [3 + 2 * i for i in range(self.char_kernels)]

    def problems(self) -> List[str]:
        """What makes these sizes unusable, before anything is built."""
        found = []
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "extra_heads":
                found += extra_heads_problems(value)
            elif field.name in BY_NAME:
                found += BY_NAME[field.name].problems(value)
            else:
                found += whole_number_problems(field.name, value, *DATA_SIZE_RANGES[field.name])
        return found

    def n_parameters(self) -> int:
        """The number of weights, computed without building anything."""
        hidden = self.hidden_width
        lstm_inputs = [self.word_width + self.char_features * self.char_kernels]
        lstm_inputs += [2 * hidden] * (self.depth - 1)
        return (
            self.n_words * self.word_width
            + (self.n_chars + 2 * self.char_edges) * self.char_width
            + sum(self.char_features * (w * self.char_width + 1) for w in self.char_windows())
            # Two directions per layer; two bias vectors per LSTM.
            + sum(2 * 4 * hidden * (width + hidden + 2) for width in lstm_inputs)
            + (2 * hidden + 1) * (self.n_tags + self.n_pos + sum(self.extra_heads))
        )

    @property
    def n_labels(self) -> int:
        return self.n_tags + self.n_pos + sum(self.extra_heads)


def extra_heads_problems(value: Any) -> List[str]:
    if not isinstance(value, tuple):
        return [f"extra_heads={value!r:.200} is not a list of whole numbers"]
    return [p for i, size in enumerate(value) for p in whole_number_problems(f"extra_heads[{i}]", size)]


class BiLSTMTagger(nn.Module):
    """Scores every token of a padded batch of sentences.

    shape (NetworkShape): the sizes of the weights.
    dropout (float): dropout on the LSTM's input and output.
    word_dropout (float): chance, in training, of replacing a known word by the
        unknown word, so that the unknown-word vector is trained.
    extra_gradient (float): the share of the extra heads' gradient (features,
        lemma rules) that reaches the encoder in training; their own layer
        learns from all of it.

    Whether dropout applies is an argument of `forward`, never the module's
    train/eval mode: threads that share the module cannot change each other's
    results.
    """

    def __init__(
        self, shape: NetworkShape, dropout: float = 0.0, word_dropout: float = 0.0, extra_gradient: float = 1.0
    ):
        super().__init__()
        self.shape = shape
        self.dropout = dropout
        self.word_dropout = word_dropout
        self.extra_gradient = extra_gradient
        self.word_embed = nn.Embedding(shape.n_words, shape.word_width, padding_idx=PAD)
        self.char_embed = nn.Embedding(shape.n_chars, shape.char_width, padding_idx=PAD)
        # A learned character before and after each word: without them a
        # word's ends are only zero padding, and a CNN window finds a suffix
        # hard to tell from the same letters inside a word.
        self.edge_chars = (
            nn.Parameter(torch.empty(2, shape.char_width)) if shape.char_edges else None
        )
        # char_cnn over 3 characters, then char_cnn5, char_cnn7... if asked for.
        self.char_cnns = []
        for window in shape.char_windows():
            cnn = nn.Conv1d(shape.char_width, shape.char_features, window, padding=window // 2)
            self.add_module("char_cnn" if window == 3 else f"char_cnn{window}", cnn)
            self.char_cnns.append(cnn)
        self.char_feature_width = shape.char_features * shape.char_kernels
        self.bilstm = BiLSTM(shape.word_width + self.char_feature_width, shape.hidden_width, shape.depth)
        self.tag_head = nn.Linear(2 * shape.hidden_width, shape.n_tags)
        self.pos_head = nn.Linear(2 * shape.hidden_width, shape.n_pos) if shape.n_pos else None
        n_extra = sum(shape.extra_heads)
        self.extra_head = nn.Linear(2 * shape.hidden_width, n_extra) if n_extra else None
        # The output layers keep torch's random start. Started at zero (as
        # thinc's Softmax is), they pass no gradient to the BiLSTM until they
        # have grown, and the tagger ends less accurate (BENCHMARKS.md).
        # torch's N(0, 1) embeddings saturate the LSTM gates at first: on EWT,
        # std 0.1 gave 91.1% dev accuracy after one epoch instead of 87.2%.
        for embed in (self.word_embed, self.char_embed):
            nn.init.normal_(embed.weight, std=0.1)
            embed.weight.data[PAD] = 0.0
        if self.edge_chars is not None:
            nn.init.normal_(self.edge_chars, std=0.1)

    def forward(self, *inputs, train: bool = False, **options) -> torch.Tensor:
        """`encode`'s arguments -> (N, n_labels): for each token, row by row,
        the scores of the tags, then of the UPOS labels, then of the extra
        heads, before each head's softmax."""
        hidden = self.encode(*inputs, train=train, **options)
        if not train or self.extra_head is None or self.extra_gradient == 1:
            return self.score(hidden)
        # The same values; only the gradient that flows back from the feature
        # and lemma layers into the encoder is scaled, so that the many
        # feature and lemma labels do not pull the shared encoder away from
        # the tags.
        share = self.extra_gradient
        damped = hidden * share + hidden.detach() * (1 - share)
        layers = [head(hidden) for head in (self.tag_head, self.pos_head) if head is not None]
        return torch.cat(layers + [self.extra_head(damped)], dim=-1)

    def score(self, hidden: torch.Tensor, columns: Optional[slice] = None) -> torch.Tensor:
        """hidden (N, 2 * hidden_width): `encode`'s output -> (N, n_labels) scores
        of every head, or only the `columns` of one head (its layout slice)."""
        layers = [head for head in (self.tag_head, self.pos_head, self.extra_head) if head is not None]
        if columns is None:
            return torch.cat([head(hidden) for head in layers], dim=-1)
        start = 0
        for head in layers:
            if start <= columns.start and columns.stop <= start + head.out_features:
                part = slice(columns.start - start, columns.stop - start)
                return functional.linear(hidden, head.weight[part], head.bias[part])
            start += head.out_features
        raise ValueError(f"columns {columns.start}:{columns.stop} are not within one output layer")

    def encode(
        self,
        word_ids: torch.Tensor,
        type_ids: torch.Tensor,
        type_chars: torch.Tensor,
        lengths: torch.Tensor,
        group_size: int,
        train: bool = False,
        lstm: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None,
    ) -> torch.Tensor:
        """word_ids (S, T): word table rows of each sentence (segment), PAD after
            its end; rows sorted by length.
        type_ids (S, T): row of `type_chars` for each token.
        type_chars (U, L): character table rows of each distinct word in the batch.
        lengths (S,): tokens in each row, on the CPU.
        group_size (int): rows that go through the LSTM together.
        train (bool): apply dropout and word dropout.
        lstm: (rows, lengths) -> hidden, in place of `self.bilstm` when not
            training (the ONNX Runtime engine).
        RETURNS (N, 2 * hidden_width): the BiLSTM's output for each token, row
            by row, that the output layers (`score`) read.
        """
        if train and self.word_dropout > 0:
            # torch's global generator: spaCy's fix_random_seed seeds it.
            drop = torch.rand(word_ids.shape, device=word_ids.device) < self.word_dropout
            word_ids = word_ids.masked_fill(drop & (word_ids != PAD), UNKNOWN)
        # Character features once per distinct word, then gathered for every token.
        word_chars = self.char_features(type_chars).to(self.word_embed.weight.dtype)
        if train:
            tokens = torch.cat([self.word_embed(word_ids), word_chars[type_ids]], dim=2)
            tokens = functional.dropout(tokens, self.dropout, train)
        # Rows of similar length share a group, so little work goes into padding.
        hidden = []
        for start in range(0, len(lengths), group_size):
            group_lengths = lengths[start : start + group_size]
            n_cols = int(group_lengths.max())
            if n_cols == 0:
                continue
            if train:
                rows = tokens[start : start + group_size, :n_cols]
            else:  # the same values, built for the group alone: no copy of the padding
                rows = self._token_rows(word_ids[start : start + group_size, :n_cols],
                                        type_ids[start : start + group_size, :n_cols], word_chars)
            if lstm is None or train:
                group = self.bilstm(rows, group_lengths, self.dropout, train)
            else:
                group = lstm(rows, group_lengths)
            hidden.append(group[torch.arange(n_cols) < group_lengths[:, None]])
        if not hidden:  # only empty Docs
            return word_chars.new_zeros((0, 2 * self.shape.hidden_width))
        return functional.dropout(torch.cat(hidden), self.dropout, train)

    def _token_rows(self, word_ids: torch.Tensor, type_ids: torch.Tensor, word_chars: torch.Tensor) -> torch.Tensor:
        """(B, T) word table rows and word_chars rows -> (B, T, width): each
        token's word embedding, then its character features (contiguous)."""
        chars = word_chars.index_select(0, type_ids.reshape(-1)).reshape(*type_ids.shape, -1)
        return torch.cat([self.word_embed(word_ids), chars], dim=2)

    def head_sizes(self) -> List[int]:
        """The width of each head's block of columns, in column order."""
        return [self.shape.n_tags] + ([self.shape.n_pos] if self.shape.n_pos else []) + list(self.shape.extra_heads)

    def char_features(self, type_chars: torch.Tensor) -> torch.Tensor:
        """type_chars (U, L): character rows of each word, PAD after its end ->
        (U, char_kernels * char_features): for each CNN, the maximum over the
        word's characters (between the two edge characters, with char_edges)
        of its ReLU outputs (zero for a word without characters).

        The words of each length go through the CNN together, without padding:
        no work goes into padding, and a word's features never depend on the
        other words of its batch. Rows sorted by length (as `featurize` gives
        them) make one CNN call per length.
        """
        n_chars = (type_chars != PAD).sum(dim=1)
        lengths, counts = torch.unique_consecutive(n_chars, return_counts=True)
        features, start = [], 0
        for length, count in zip(lengths.tolist(), counts.tolist()):
            words = type_chars[start : start + count, :length]
            start += count
            if length == 0:
                features.append(self.char_embed.weight.new_zeros((count, self.char_feature_width)))
                continue
            chars = self.char_embed(words)
            if self.edge_chars is not None:
                edges = self.edge_chars[:, None, :].expand(2, count, -1)
                chars = torch.cat([edges[0, :, None], chars, edges[1, :, None]], dim=1)
            chars = chars.transpose(1, 2)
            # relu(max) is max(relu), on (count, features) instead of every character.
            maxima = [largest(cnn(chars)) for cnn in self.char_cnns]
            features.append(torch.relu(torch.cat(maxima, dim=1)))
        return torch.cat(features)


def largest(outputs: torch.Tensor) -> torch.Tensor:
    """(count, features, positions) -> (count, features): the maximum over
    the positions. Without gradients `amax` (4 times faster on a CPU: no
    indices); with them `max`, whose gradient goes to one position of a tie
    where amax's is shared among them, so that training is as it was."""
    if torch.is_grad_enabled() and outputs.requires_grad:
        return outputs.max(dim=2).values
    return outputs.amax(dim=2)


class BiLSTM(nn.Module):
    """A stacked bidirectional LSTM over padded rows, exact for every row.

    torch's bidirectional LSTM on a padded batch would start the backward pass
    of a short row on its padding; packing avoids that but is slow on a CPU.
    Here the backward LSTM reads each row reversed within its own length, so
    padding only ever follows the tokens and never changes their outputs.
    """

    def __init__(self, width: int, hidden_width: int, depth: int):
        super().__init__()
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for i in range(depth):
            layer_width = width if i == 0 else 2 * hidden_width
            self.forward_layers.append(nn.LSTM(layer_width, hidden_width, batch_first=True))
            self.backward_layers.append(nn.LSTM(layer_width, hidden_width, batch_first=True))

    def forward(
        self, rows: torch.Tensor, lengths: torch.Tensor, dropout: float, train: bool
    ) -> torch.Tensor:
        """rows (B, T, width), lengths (B,) on the CPU -> (B, T, 2 * hidden_width);
        outputs past a row's length are meaningless. `dropout` applies between
        layers when `train`."""
        n_cols = rows.shape[1]
        columns = torch.arange(n_cols)
        # Reverses each row's first `length` positions; its own inverse.
        reverse = torch.where(
            columns < lengths[:, None], lengths[:, None] - 1 - columns, columns
        ).to(rows.device)
        for i, (forward_lstm, backward_lstm) in enumerate(
            zip(self.forward_layers, self.backward_layers)
        ):
            if i > 0:
                rows = functional.dropout(rows, dropout, train)
            ahead, _ = forward_lstm(rows)
            behind, _ = backward_lstm(reverse_rows(rows, reverse))
            rows = torch.cat([ahead, reverse_rows(behind, reverse)], dim=2)
        return rows


def reverse_rows(rows: torch.Tensor, reverse: torch.Tensor) -> torch.Tensor:
    """rows (B, T, width), reverse (B, T): row b's position t takes position
    reverse[b, t] of the same row. Whole vectors are copied (index_select on
    the rows flattened to (B * T, width)), not element by element as with
    gather: about 30 times faster on a CPU, with the same values."""
    n_rows, n_cols = reverse.shape
    offsets = torch.arange(0, n_rows * n_cols, n_cols, device=reverse.device)
    flat = (reverse + offsets[:, None]).reshape(-1)
    return rows.reshape(n_rows * n_cols, -1).index_select(0, flat).reshape(rows.shape)
