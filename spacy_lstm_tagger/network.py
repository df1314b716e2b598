"""The PyTorch network: word and character features -> BiLSTM -> log-probabilities.

It grows the LSTMTagger of PyTorch's "Sequence Models and LSTM Networks" tutorial
(embedding -> LSTM -> linear -> log-softmax): a character CNN per word type (the
tutorial's exercise), a bidirectional multi-layer LSTM over whole batches in
length-sorted groups, word dropout to train the unknown-word vector, and an
optional second head for UPOS.
"""
from typing import Dict, Any

import torch
from torch import nn

PAD = 0
UNKNOWN = 1


class BiLSTMTagger(nn.Module):
    """Scores every token of a padded batch of sentences.

    n_words (int): rows of the word table, padding and unknown included.
    n_chars (int): rows of the character table, padding and unknown included.
    n_tags (int): number of XPOS labels (`token.tag_`).
    n_pos (int): number of UPOS labels (`token.pos_`); 0 for no UPOS head.
    word_width (int): width of the word embedding.
    char_width (int): width of the character embedding.
    char_features (int): CNN filters over characters, i.e. the width of a word's
        character feature.
    hidden_width (int): LSTM hidden size of each direction.
    depth (int): number of stacked BiLSTM layers.
    dropout (float): dropout on the LSTM's input and output.
    word_dropout (float): chance, in training, of replacing a known word by the
        unknown word, so that the unknown-word vector is trained.
    """

    def __init__(
        self,
        *,
        n_words: int,
        n_chars: int,
        n_tags: int,
        n_pos: int,
        word_width: int,
        char_width: int,
        char_features: int,
        hidden_width: int,
        depth: int,
        dropout: float,
        word_dropout: float,
    ):
        super().__init__()
        # Kept so that a saved model can be rebuilt with the same shape.
        self.kwargs: Dict[str, Any] = dict(
            n_words=n_words,
            n_chars=n_chars,
            n_tags=n_tags,
            n_pos=n_pos,
            word_width=word_width,
            char_width=char_width,
            char_features=char_features,
            hidden_width=hidden_width,
            depth=depth,
            dropout=dropout,
            word_dropout=word_dropout,
        )
        self.word_dropout = word_dropout
        self.word_embed = nn.Embedding(n_words, word_width, padding_idx=PAD)
        self.char_embed = nn.Embedding(n_chars, char_width, padding_idx=PAD)
        self.char_cnn = nn.Conv1d(char_width, char_features, kernel_size=3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.bilstm = BiLSTM(word_width + char_features, hidden_width, depth, dropout)
        self.tag_head = nn.Linear(2 * hidden_width, n_tags)
        self.pos_head = nn.Linear(2 * hidden_width, n_pos) if n_pos else None
        self.n_pos = n_pos
        # torch's N(0, 1) embeddings saturate the LSTM gates at first: on EWT,
        # std 0.1 gave 91.1% dev accuracy after one epoch instead of 87.2%.
        for embed in (self.word_embed, self.char_embed):
            nn.init.normal_(embed.weight, std=0.1)
            embed.weight.data[PAD] = 0.0

    def forward(
        self,
        word_ids: torch.Tensor,
        type_ids: torch.Tensor,
        type_chars: torch.Tensor,
        lengths: torch.Tensor,
        group_size: int,
    ) -> torch.Tensor:
        """word_ids (S, T): word table rows of each sentence (segment), PAD after
            its end; rows sorted by length.
        type_ids (S, T): row of `type_chars` for each token.
        type_chars (U, L): character table rows of each distinct word in the batch.
        lengths (S,): tokens in each row, on the CPU.
        group_size (int): rows that go through the LSTM together.
        RETURNS (N, n_tags + n_pos): for each token, row by row, log-probabilities
            of the tags, then of the UPOS labels, each normalised on its own.
        """
        if self.training and self.word_dropout > 0:
            # torch's global generator: spaCy's fix_random_seed seeds it.
            drop = torch.rand(word_ids.shape, device=word_ids.device) < self.word_dropout
            word_ids = word_ids.masked_fill(drop & (word_ids != PAD), UNKNOWN)
        # Character features once per distinct word, then gathered for every token.
        chars = self.char_embed(type_chars).transpose(1, 2)
        char_features = torch.relu(self.char_cnn(chars))
        # Past a word's end there is only padding, whose length depends on the
        # batch: zero it (no loss for the max over ReLU outputs, all >= 0) so
        # that a word's features never depend on its neighbours in the batch.
        char_features = char_features.masked_fill((type_chars == PAD)[:, None, :], 0.0)
        char_features = char_features.max(dim=2).values
        tokens = torch.cat([self.word_embed(word_ids), char_features[type_ids]], dim=2)
        tokens = self.dropout(tokens)
        # Rows of similar length share a group, so little work goes into padding.
        hidden = []
        for start in range(0, len(lengths), group_size):
            group_lengths = lengths[start : start + group_size]
            n_cols = int(group_lengths.max())
            if n_cols == 0:
                continue
            group = self.bilstm(tokens[start : start + group_size, :n_cols], group_lengths)
            hidden.append(group[torch.arange(n_cols) < group_lengths[:, None]])
        if not hidden:  # only empty Docs
            return tokens.new_zeros((0, self.tag_head.out_features + self.n_pos))
        hidden = self.dropout(torch.cat(hidden))
        scores = [torch.log_softmax(self.tag_head(hidden), dim=-1)]
        if self.pos_head is not None:
            scores.append(torch.log_softmax(self.pos_head(hidden), dim=-1))
        return torch.cat(scores, dim=-1)


class BiLSTM(nn.Module):
    """A stacked bidirectional LSTM over padded rows, exact for every row.

    torch's bidirectional LSTM on a padded batch would start the backward pass
    of a short row on its padding; packing avoids that but is slow on a CPU.
    Here the backward LSTM reads each row reversed within its own length, so
    padding only ever follows the tokens and never changes their outputs.
    """

    def __init__(self, width: int, hidden_width: int, depth: int, dropout: float):
        super().__init__()
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for i in range(depth):
            layer_width = width if i == 0 else 2 * hidden_width
            self.forward_layers.append(nn.LSTM(layer_width, hidden_width, batch_first=True))
            self.backward_layers.append(nn.LSTM(layer_width, hidden_width, batch_first=True))
        self.dropout = nn.Dropout(dropout)

    def forward(self, rows: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """rows (B, T, width), lengths (B,) on the CPU -> (B, T, 2 * hidden_width);
        outputs past a row's length are meaningless."""
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
                rows = self.dropout(rows)
            ahead, _ = forward_lstm(rows)
            behind, _ = backward_lstm(reverse_rows(rows, reverse))
            rows = torch.cat([ahead, reverse_rows(behind, reverse)], dim=2)
        return rows


def reverse_rows(rows: torch.Tensor, reverse: torch.Tensor) -> torch.Tensor:
    return rows.gather(1, reverse[:, :, None].expand(-1, -1, rows.shape[2]))
