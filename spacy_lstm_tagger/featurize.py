"""Docs -> index arrays: the only place where token strings become numbers."""
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List

import numpy
import srsly
from spacy.tokens import Doc

from .network import PAD, UNKNOWN

RESERVED = ["<pad>", "<unk>"]  # rows PAD and UNKNOWN of both tables


def word_key(text: str) -> str:
    """The word table's key: lowercased, since the characters carry the case."""
    return text.lower()


def clip_word(text: str, max_chars: int) -> str:
    """Keep a long word's beginning and end, where prefixes and suffixes are."""
    if len(text) <= max_chars:
        return text
    head = max_chars // 2
    return text[:head] + text[len(text) - (max_chars - head) :]


class IndexTables:
    """The word and character tables of a model, saved with its weights.

    Rows 0 and 1 of each table are padding and the unknown entry.
    """

    def __init__(self, words: Iterable[str] = (), chars: Iterable[str] = ()):
        self.words = list(words)
        self.chars = list(chars)
        self.word_index: Dict[str, int] = {w: i for i, w in enumerate(self.words)}
        self.char_index: Dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    @property
    def is_built(self) -> bool:
        return bool(self.words)

    @classmethod
    def from_docs(cls, docs: Iterable[Doc], min_word_count: int) -> "IndexTables":
        """Tables of the words seen at least `min_word_count` times, and of every
        character seen.
        """
        word_counts: Counter = Counter()
        char_counts: Counter = Counter()
        for doc in docs:
            texts = [token.text for token in doc]
            word_counts.update(word_key(text) for text in texts)
            for text in texts:
                char_counts.update(text)
        words = sorted(w for w, n in word_counts.items() if n >= min_word_count)
        return cls(RESERVED + words, RESERVED + sorted(char_counts))

    def to_bytes(self) -> bytes:
        return srsly.msgpack_dumps({"words": self.words, "chars": self.chars})

    @classmethod
    def from_bytes(cls, data: bytes) -> "IndexTables":
        msg = srsly.msgpack_loads(data)
        tables = cls(msg["words"], msg["chars"])
        if tables.is_built and (tables.words[:2] != RESERVED or tables.chars[:2] != RESERVED):
            raise ValueError("index tables are damaged: reserved rows are missing")
        return tables


@dataclass
class Batch:
    """Index arrays for a batch of Docs. Each Doc is cut into segments of at most
    `max_sequence` tokens, one row each; rows are padded to the longest segment.
    """

    doc_lengths: List[int]  # tokens per Doc
    lengths: numpy.ndarray  # (S,) tokens per segment
    word_ids: numpy.ndarray  # (S, T) word table rows
    type_ids: numpy.ndarray  # (S, T) row of type_chars for each token
    type_chars: numpy.ndarray  # (U, L) character rows of each distinct word

    @property
    def token_mask(self) -> numpy.ndarray:
        """(S, T) True where a row holds a token: selecting with it gives every
        token of every Doc, in order."""
        return numpy.arange(self.word_ids.shape[1]) < self.lengths[:, None]


def featurize(
    docs: List[Doc], tables: IndexTables, max_word_chars: int, max_sequence: int
) -> Batch:
    """Index arrays for `docs`. Long Docs are cut into segments so that the
    network's memory stays bounded; character rows are built once per distinct
    word in the batch. At least one row, one column and one word type are always
    present, so an empty Doc (or a batch of them) needs no special case downstream.
    """
    doc_lengths = [len(doc) for doc in docs]
    segments = [
        (doc, start, min(start + max_sequence, n))
        for doc, n in zip(docs, doc_lengths)
        for start in range(0, n, max_sequence)
    ]
    lengths = numpy.array([end - start for _, start, end in segments] or [0], dtype="int64")
    shape = (len(lengths), max(1, int(lengths.max())))
    word_ids = numpy.full(shape, PAD, dtype="int64")
    type_ids = numpy.zeros(shape, dtype="int64")
    types: Dict[str, int] = {"": 0}  # type 0 pads
    word_index = tables.word_index
    for row, (doc, start, end) in enumerate(segments):
        texts = [token.text for token in doc[start:end]]
        word_ids[row, : len(texts)] = [word_index.get(word_key(t), UNKNOWN) for t in texts]
        type_ids[row, : len(texts)] = [types.setdefault(t, len(types)) for t in texts]
    clipped = [clip_word(text, max_word_chars) for text in types]
    type_chars = numpy.full(
        (len(clipped), max(1, max(len(text) for text in clipped))), PAD, dtype="int64"
    )
    char_index = tables.char_index
    for row, text in enumerate(clipped):
        type_chars[row, : len(text)] = [char_index.get(c, UNKNOWN) for c in text]
    return Batch(doc_lengths, lengths, word_ids, type_ids, type_chars)
