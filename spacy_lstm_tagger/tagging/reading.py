"""Reading the input of `tag`: documents one a line, plain text or JSONL
(`.gz` too, or stdin), with every bad line turned into a `Problem` that names
it instead of an error, and the policy that skips or stops at those.
"""
import gzip
import json
import sys
import zlib
from contextlib import contextmanager
from typing import BinaryIO, Callable, Dict, Iterable, Iterator, Optional, Tuple, TypeVar, Union

from ..types import PathLike
from .errors import Problem, TagIOError

Document = TypeVar("Document")  # what BadLinePolicy passes on: a text, or a record
STDIO = "-"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BOM = b"\xef\xbb\xbf"
# A JSON string spends at most 12 bytes on a character ("\ud83d\ude00"), so a
# line of more than this many bytes per allowed character is refused unread.
MAX_BYTES_PER_CHAR = 16
# Exceptions of a damaged .gz stream (BadGzipFile is an OSError).
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


class BadLinePolicy:
    """Turns (line number, text or Problem) into the (text, line number) pairs
    to tag (any other document than a text too, such as an engine's tagged
    record, passes as a text does): a Problem is reported and skipped (and counted), or ends the input
    ("stop"), keeping its message in `stopped_by`. An input that cannot be read
    on ends there too, keeping the TagIOError in `read_error`, so that the
    lines read before it are still tagged."""

    def __init__(self, on_error: str, warn: Callable[[str], None]):
        self.on_error = on_error
        self.warn = warn
        self.skipped = 0
        self.stopped_by: Optional[str] = None
        self.read_error: Optional[TagIOError] = None

    def texts(
        self,
        documents: Iterable[Tuple[int, Union[Document, Problem]]],
        after_line: int = 0,
        stop: Callable[[], Optional[str]] = lambda: None,
    ) -> Iterator[Tuple[Document, int]]:
        """after_line: pass over the lines up to this one (done by an earlier run).
        stop: ends the input when it returns something (a signal's name)."""
        try:
            for line_number, text in documents:
                if stop():
                    return
                if line_number <= after_line:
                    continue
                if not isinstance(text, Problem):
                    yield text, line_number
                    continue
                message = f"line {line_number}: {text.problem}"
                if self.on_error == "stop":
                    self.stopped_by = message
                    return  # the documents before it are still tagged and written
                self.skipped += 1
                self.warn(f"{message} (skipped)")
        except TagIOError as err:
            self.read_error = err


def read_documents(
    path: PathLike, input_format: str, max_length: int
) -> Iterator[Tuple[int, Union[str, Problem]]]:
    """(line number, text or Problem) for each document line of a file (.gz:
    compressed; "-": stdin). In text, every line is a document (an empty one
    too, so that output and input lines match); in JSONL, blank lines are passed
    over. A line that is not UTF-8, holds NUL bytes (UTF-16), a lone surrogate,
    bad JSON or more than `max_length` characters is a Problem, not an error.
    RAISES (TagIOError): if the file cannot be read or its compression is damaged.
    """
    with open_input(path) as stream:
        for line_number, raw in read_raw_lines(stream, path, MAX_BYTES_PER_CHAR * max_length):
            if raw is None:
                yield line_number, Problem(
                    f"longer than {MAX_BYTES_PER_CHAR * max_length:,} bytes, over the "
                    f"pipeline's max_length of {max_length:,} characters"
                )
                continue
            if line_number == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM) :]
            text = decode_line(raw, is_first=line_number == 1)
            if input_format == "jsonl" and isinstance(text, str):
                if not text.strip():
                    continue
                text = parse_jsonl_line(text)
            if isinstance(text, str) and len(text) > max_length:
                text = Problem(
                    f"{len(text):,} characters, over the pipeline's max_length of {max_length:,}"
                )
            yield line_number, text


def read_raw_lines(
    stream: BinaryIO, path: PathLike, max_bytes: int
) -> Iterator[Tuple[int, Optional[bytes]]]:
    """(line number, bytes without the line end) for each line; None for a line
    longer than `max_bytes`, whose rest is read past without being kept."""
    line_number = 0
    try:
        while True:
            raw = stream.readline(max_bytes + 1)
            if not raw:
                return
            line_number += 1
            if len(raw) > max_bytes and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):
                    raw = stream.readline(max_bytes + 1)
                yield line_number, None
                continue
            yield line_number, raw.rstrip(b"\n").rstrip(b"\r")
    except GZIP_ERRORS as err:
        raise TagIOError(f"{path}: damaged gzip data after line {line_number} ({err})") from None
    except OSError as err:
        raise TagIOError(f"{path}: cannot be read after line {line_number} ({err.strerror or err})") from None


def decode_line(raw: bytes, is_first: bool) -> Union[str, Problem]:
    if is_first and raw.startswith(UTF16_BOMS):
        return Problem("starts with a UTF-16 byte order mark; the input must be UTF-8")
    if b"\x00" in raw:
        return Problem("holds NUL bytes (UTF-16 or binary data?); the input must be UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return Problem(f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1})")


class Text(str):
    """A document's text, with the other fields of its JSONL record (an "id",
    metadata...), which the output keeps."""

    fields: Dict[str, object]

    def __new__(cls, text: str, fields: Dict[str, object]):
        self = super().__new__(cls, text)
        self.fields = fields
        return self

    def __reduce__(self):  # for worker processes
        return Text, (str(self), self.fields)


OWN_FIELDS = ("line", "tokens")  # what the output adds to a record


def fields_of(text: str) -> Dict[str, object]:
    """The other fields of a document's input record; none for plain text."""
    return getattr(text, "fields", {})


def refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_jsonl_line(line: str) -> Union[str, Problem]:
    try:
        record = json.loads(line, parse_constant=refuse_constant)  # NaN, Infinity
    except RecursionError:
        return Problem("invalid JSON (nested too deeply)")
    except ValueError as err:  # JSONDecodeError, and integers too long to convert
        return Problem(f"invalid JSON ({err})")
    if not isinstance(record, dict) or "text" not in record:
        return Problem('expected an object with a "text" string')
    text = record["text"]
    if not isinstance(text, str):
        return Problem(f'"text" must be a string, not {type(text).__name__}')
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # JSON can spell a lone surrogate, "\ud800"
        return Problem(f"lone surrogate U+{ord(text[err.start]):04X} at character {err.start + 1} of \"text\"")
    own = [name for name in OWN_FIELDS if name in record]
    if own:
        return Problem(f'has a field {own[0]!r}, which the output sets; rename it')
    fields = {name: value for name, value in record.items() if name != "text"}
    try:
        json.dumps(fields, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return Problem("a lone surrogate in a field other than \"text\"")
    return Text(text, fields) if fields else text


@contextmanager
def open_input(path: PathLike) -> Iterator[BinaryIO]:
    """The bytes of a file (decompressed if it ends in .gz), or of stdin for "-"."""
    if str(path) == STDIO:
        yield sys.stdin.buffer
        return
    try:
        f = gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")
    except OSError as err:
        raise TagIOError(f"{path}: cannot be read ({err.strerror or err})") from None
    with f:
        yield f
