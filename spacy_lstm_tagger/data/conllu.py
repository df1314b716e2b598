"""Read Universal Dependencies CoNLL-U files into spaCy Docs.

The tokens are the *syntactic words* of the treebank, as with `spacy convert`:
multi-word-token range lines (`3-4  can't`) and empty nodes (`8.1`) are not
tokens. `token.tag_` is the XPOS column and `token.pos_` the UPOS column,
`token.lemma_` the LEMMA column and `token.morph` the FEATS column.
"""
import gzip
import re
import zlib
from pathlib import Path
from typing import IO, Iterator, List, Optional, Tuple

from spacy.parts_of_speech import IDS as _POS_IDS
from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..pipeline.layout import label_problem
from ..types import PathLike


_N_COLUMNS = 10
_MISSING = "_"
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = "\ufeff".encode("utf-8")
_WORD_ID = re.compile(r"[1-9][0-9]*")
_RANGE_ID = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)")
_EMPTY_ID = re.compile(r"[0-9]+\.[1-9][0-9]*")
# spaCy's pos_ only takes its own symbol table; "" is its "no tag" value,
# which we reserve for "_" so a literal empty UPOS cannot slip through.
_VALID_POS = frozenset(p for p in _POS_IDS if p)


def read_conllu(path: PathLike, vocab: Vocab) -> Iterator[Doc]:
    """Stream a CoNLL-U file, one Doc per sentence.

    path (str / Path): The file, plain or gzipped (by `.gz` suffix or magic
        bytes).
    vocab (Vocab): The vocab the Docs are created with.
    YIELDS (Doc): One Doc per sentence, tokens = syntactic words, with
        `tag_` = XPOS, `pos_` = UPOS and `lemma_` = LEMMA where the column isn't
        `_`, and `morph` = FEATS (no features for `_`).
    RAISES (ValueError): On a malformed line, text that is not UTF-8 or damaged
        gzip data; the message names the file and the line.
    """
    path = Path(path)
    # Checked here rather than in the generator so a wrong path fails at the
    # call, not at the first next() somewhere else.
    if not path.is_file():
        raise FileNotFoundError(f"CoNLL-U file not found: {path}")
    return _read_docs(path, vocab)


def _is_gzipped(path: Path) -> bool:
    with path.open("rb") as f:
        magic = f.read(2)
    return path.suffix == ".gz" or magic == _GZIP_MAGIC


def _read_docs(path: Path, vocab: Vocab) -> Iterator[Doc]:
    sentence = _SentenceBuilder(path)
    lineno = 0
    for lineno, line in _lines(path):
        if not line.strip():
            if sentence.words:
                yield sentence.to_doc(vocab, lineno)
            sentence = _SentenceBuilder(path)
        elif line.startswith("#"):
            continue
        else:
            sentence.add_line(line, lineno)
    # A file need not end with a blank line.
    if sentence.words:
        yield sentence.to_doc(vocab, lineno + 1)


def _lines(path: Path) -> Iterator[Tuple[int, str]]:
    """(line number, text without its line break) of each line; a line ends
    at \\n, \\r\\n or \\r. Lines are decoded one by one, so that text that is
    not UTF-8 is named by its line; damaged gzip data by the last line before it."""
    gzipped = _is_gzipped(path)
    lineno = 0
    try:
        with gzip.open(path, "rb") if gzipped else path.open("rb") as f:
            for raw in f:
                if lineno == 0 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]  # it would glue itself to the first ID
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    line = lineno + 1 + raw[: err.start].count(b"\r")
                    column = err.start - raw.rfind(b"\r", 0, err.start)
                    raise ValueError(
                        f"{path}, line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at "
                        f"byte {column} of the line); CoNLL-U files are UTF-8"
                    ) from None
                text = text.rstrip("\n")
                if "\r" not in text:
                    lineno += 1
                    yield lineno, text
                    continue
                for line in (text[:-1] if text.endswith("\r") else text).split("\r"):
                    lineno += 1
                    yield lineno, line
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        if not gzipped:
            raise
        where = f"after line {lineno}" if lineno else "before its first line"
        raise ValueError(
            f"{path}: the gzip file is truncated or damaged: reading stopped {where} "
            f"({type(err).__name__}: {err})"
        ) from None


class _SentenceBuilder:
    """Collect the words of one sentence, validating as lines arrive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.words: List[str] = []
        self.spaces: List[bool] = []
        self.tags: List[str] = []
        self.pos: List[str] = []
        self.lemmas: List[str] = []
        self.feats: List[str] = []
        # The multi-word token being read, if any: its last word ID, whether
        # the range line allows a space after it, and the range line's number.
        self.range_end: Optional[int] = None
        self.range_space = True
        self.range_lineno = 0

    def error(self, lineno: int, msg: str) -> ValueError:
        return ValueError(f"{self.path}, line {lineno}: {msg}")

    def add_line(self, line: str, lineno: int) -> None:
        cols = line.split("\t")
        if len(cols) != _N_COLUMNS:
            raise self.error(
                lineno,
                f"expected {_N_COLUMNS} tab-separated columns, found {len(cols)}",
            )
        id_, form, lemma, upos, xpos, feats, _head, _deprel, _deps, misc = cols
        next_id = len(self.words) + 1
        if _EMPTY_ID.fullmatch(id_):
            # Empty nodes are enhanced-graph-only words, not in the surface text.
            return
        range_match = _RANGE_ID.fullmatch(id_)
        if range_match:
            start, end = (int(x) for x in range_match.groups())
            if self.range_end is not None:
                raise self.error(lineno, f"range {id_} inside another range")
            if start != next_id or end <= start:
                raise self.error(
                    lineno, f"bad range ID {id_!r} (next word ID is {next_id})"
                )
            self.range_end = end
            self.range_space = not _has_no_space_after(misc)
            self.range_lineno = lineno
            return
        if not _WORD_ID.fullmatch(id_):
            raise self.error(lineno, f"ID {id_!r} is not an integer, range or decimal")
        if int(id_) != next_id:
            # Usually a missing blank line between two sentences.
            raise self.error(
                lineno, f"word ID {id_} out of sequence, expected {next_id}"
            )
        if not form:
            raise self.error(lineno, "empty FORM")
        if upos != _MISSING and upos not in _VALID_POS:
            raise self.error(lineno, f"invalid UPOS {upos!r}")
        problem = None if xpos == _MISSING else label_problem(xpos)
        if problem:
            raise self.error(lineno, f"the XPOS {xpos!r} {problem}")
        if self.range_end is not None:
            # The words of a multi-word token are written together; the range
            # line's MISC says whether a space follows the whole token.
            if next_id == self.range_end:
                space = self.range_space
                self.range_end = None
            else:
                space = False
        else:
            space = not _has_no_space_after(misc)
        self.words.append(form)
        self.spaces.append(space)
        # "" is spaCy's unset value for both tag_ and pos_.
        self.tags.append("" if xpos == _MISSING else xpos)
        self.pos.append("" if upos == _MISSING else upos)
        # "_" is the lemma of the word "_" only; elsewhere the column is empty.
        self.lemmas.append("" if lemma == _MISSING and form != _MISSING else lemma)
        self.feats.append(feats)

    def to_doc(self, vocab: Vocab, lineno: int) -> Doc:
        if self.range_end is not None:
            raise self.error(
                self.range_lineno,
                f"range ends at word {self.range_end} but the sentence ending "
                f"before line {lineno} has only {len(self.words)} words",
            )
        try:
            return Doc(
                vocab, words=self.words, spaces=self.spaces, tags=self.tags, pos=self.pos,
                lemmas=self.lemmas, morphs=self.feats,
            )
        except ValueError as err:  # spaCy refuses a malformed FEATS string
            raise self.error(lineno, f"the sentence ending here: {err}") from None


def _has_no_space_after(misc: str) -> bool:
    # Exact item match: a substring test would also hit e.g. CorrectSpaceAfter=No.
    return misc != _MISSING and "SpaceAfter=No" in misc.split("|")
