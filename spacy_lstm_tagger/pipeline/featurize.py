"""Docs -> index arrays: the only place where token strings become numbers."""
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, NamedTuple, Tuple

import numpy
import srsly
from spacy.attrs import ORTH
from spacy.strings import StringStore
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
        # The characters' code points, sorted, and their rows: `char_rows` looks a
        # whole batch's characters up at once.
        singles = sorted((ord(c), i) for c, i in self.char_index.items() if len(c) == 1)
        self._char_points = numpy.array([p for p, _ in singles] or [0], dtype="uint32")
        self._char_rows = numpy.array([i for _, i in singles] or [UNKNOWN], dtype="int64")

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

    def char_rows(self, text: str) -> numpy.ndarray:
        """The character table's row of each character of `text` (UNKNOWN for
        one not in the table)."""
        # surrogatepass: a lone surrogate is a character like any other here.
        points = numpy.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        at = numpy.searchsorted(self._char_points, points).clip(max=len(self._char_points) - 1)
        return numpy.where(self._char_points[at] == points, self._char_rows[at], UNKNOWN)

    def to_bytes(self) -> bytes:
        return srsly.msgpack_dumps({"words": self.words, "chars": self.chars})

    @classmethod
    def from_bytes(cls, data: bytes) -> "IndexTables":
        try:
            msg = srsly.msgpack_loads(data)
        except Exception as err:  # msgpack has several error types for bad input
            raise ValueError(f"index tables are damaged or truncated ({err})") from None
        if not isinstance(msg, dict) or not all(
            isinstance(msg.get(key), list) and all(isinstance(s, str) for s in msg[key])
            for key in ("words", "chars")
        ):
            raise ValueError("index tables are damaged: expected lists of strings")
        tables = cls(msg["words"], msg["chars"])
        if tables.is_built and (tables.words[:2] != RESERVED or tables.chars[:2] != RESERVED):
            raise ValueError("index tables are damaged: reserved rows are missing")
        return tables


class Segment(NamedTuple):
    """The tokens of one network row: a slice of its Doc's token ids."""

    orths: numpy.ndarray
    strings: StringStore


def token_ids(doc: Doc) -> numpy.ndarray:
    """A Doc's token ids (ORTH): the one place where a Doc's tokens are read."""
    return doc.to_array(ORTH)


def cut_segments(docs: List[Doc], max_sequence: int) -> Tuple[List[Segment], numpy.ndarray]:
    """Cut each Doc into rows of at most `max_sequence` tokens, which bounds the
    network's memory, and sort the rows by length, so that rows that run through
    the LSTM together need little padding. Each Doc is read once here, however
    many network passes its rows take, so a huge Doc costs linear time.
    RETURNS: the sorted rows, and for each token in Doc order its place among the
        rows' tokens read row by row.
    """
    segments = []
    for doc in docs:
        orths = token_ids(doc)
        strings = doc.vocab.strings
        segments += [
            Segment(orths[start : start + max_sequence], strings)
            for start in range(0, len(orths), max_sequence)
        ]
    lengths = numpy.array([len(segment.orths) for segment in segments], dtype="int64")
    order = numpy.argsort(lengths, kind="stable")
    # Where each segment's tokens start among the sorted rows' tokens.
    starts = numpy.zeros(len(segments), dtype="int64")
    starts[order] = numpy.cumsum(lengths[order]) - lengths[order]
    # Token j of segment i is token offsets[i] + j in Doc order.
    offsets = numpy.cumsum(lengths) - lengths
    token_order = numpy.repeat(starts - offsets, lengths) + numpy.arange(lengths.sum())
    return [segments[i] for i in order], token_order


def split_by_tokens(segments: List[Segment], max_tokens: int) -> List[List[Segment]]:
    """Consecutive runs of rows with at most `max_tokens` tokens each (or one row)."""
    parts: List[List[Segment]] = [[]]
    n_tokens = 0
    for segment in segments:
        length = len(segment.orths)
        if parts[-1] and n_tokens + length > max_tokens:
            parts.append([])
            n_tokens = 0
        parts[-1].append(segment)
        n_tokens += length
    return parts


@dataclass
class Batch:
    """Index arrays for network rows, padded to the longest row."""

    lengths: numpy.ndarray  # (S,) tokens per row
    word_ids: numpy.ndarray  # (S, T) word table rows
    type_ids: numpy.ndarray  # (S, T) row of type_chars for each token
    type_chars: numpy.ndarray  # (U, L) character rows of each distinct word, by length


def featurize(segments: List[Segment], tables: IndexTables, max_word_chars: int) -> Batch:
    """Index arrays for the rows. Strings are looked up once per distinct word
    in the batch, not per token. At least one row, one column and one word type
    are always present, so a batch of empty Docs needs no special case downstream.
    """
    lengths = numpy.array([len(segment.orths) for segment in segments] or [0], dtype="int64")
    shape = (len(lengths), max(1, int(lengths.max())))
    flat = numpy.concatenate(
        [segment.orths for segment in segments] or [numpy.zeros(0, dtype="uint64")]
    )
    distinct, type_of_token = numpy.unique(flat, return_inverse=True)
    strings = segments[0].strings if segments else None
    texts = [""] + [strings[orth] for orth in distinct.tolist()]  # type 0 pads
    clipped = [clip_word(text, max_word_chars) for text in texts]
    n_chars = numpy.fromiter(map(len, clipped), dtype="int64", count=len(clipped))
    # Types by length, so that the network's character CNN takes each length in
    # one slice; type 0 (length 0) stays first.
    by_length = numpy.argsort(n_chars, kind="stable")
    new_type = numpy.empty_like(by_length)  # of each type in numpy.unique's order
    new_type[by_length] = numpy.arange(len(by_length))
    texts = [texts[i] for i in by_length]
    clipped = [clipped[i] for i in by_length]
    n_chars = n_chars[by_length]
    word_of_type = numpy.array(
        [PAD] + [tables.word_index.get(word_key(t), UNKNOWN) for t in texts[1:]],
        dtype="int64",
    )
    is_token = numpy.arange(shape[1]) < lengths[:, None]
    type_ids = numpy.zeros(shape, dtype="int64")
    type_ids[is_token] = new_type[type_of_token.reshape(-1) + 1]
    word_ids = word_of_type[type_ids]
    type_chars = numpy.full((len(clipped), max(1, int(n_chars.max()))), PAD, dtype="int64")
    # Row-major order of the mask is the order of the joined characters.
    type_chars[numpy.arange(type_chars.shape[1]) < n_chars[:, None]] = tables.char_rows(
        "".join(clipped)
    )
    return Batch(lengths, word_ids, type_ids, type_chars)
