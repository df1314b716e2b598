"""Tag a corpus of any size: `python -m spacy_lstm_tagger tag MODEL INPUT OUTPUT`.

The input (plain text, one document a line, or JSONL with a "text" per line) is
read lazily, tagged by `nlp.pipe` in batches and written as it comes, so memory
does not grow with the input. The pieces are small functions that another engine
can reuse: `read_documents` (line number, text or Problem), `BadLinePolicy`
(skip or stop, with messages and counts), `doc_to_record` / `conllu_sentences`
(a tagged Doc as output) and `AtomicOutput` (a file renamed into place only when
complete; otherwise kept as OUTPUT.partial for `--resume`).
"""
import argparse
import gzip
import json
import math
import os
import signal
import sys
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, TypeVar, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from tqdm import tqdm

from .confidence import TAG_PROB, TAG_TOP_K

PathLike = Union[str, Path]
Document = TypeVar("Document")  # what BadLinePolicy passes on: a text, or a record
INPUT_FORMATS = ("text", "jsonl")
OUTPUT_FORMATS = ("jsonl", "conllu")
ON_ERROR = ("skip", "stop")
ENGINES = ("local", "ray")
STDIO = "-"
PARTIAL = ".partial"  # suffix of an output that is not complete yet
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BOM = b"\xef\xbb\xbf"
# A JSON string spends at most 12 bytes on a character ("\ud83d\ude00"), so a
# line of more than this many bytes per allowed character is refused unread.
MAX_BYTES_PER_CHAR = 16
# Exceptions of a damaged .gz stream (BadGzipFile is an OSError).
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


class BadLineError(ValueError):
    """An input line that `--on-error stop` does not get past."""


class TagIOError(ValueError):
    """A file that cannot be read or written; the message names it and the problem."""


@dataclass
class Problem:
    """Why an input line holds no document."""

    problem: str


@dataclass
class TagStats:
    """What a run did."""

    docs: int = 0
    words: int = 0
    skipped: int = 0
    seconds: float = 0.0
    last_line: int = 0  # input line of the last document written
    resumed_docs: int = 0  # documents kept from OUTPUT.partial
    interrupted: Optional[str] = None  # the signal that ended the run early

    def summary(self) -> str:
        speed = self.words / self.seconds if self.seconds else 0.0
        text = (
            f"tagged {self.docs:,} documents ({self.words:,} words) in "
            f"{self.seconds:.1f} s, {speed:,.0f} words/s"
        )
        if self.resumed_docs:
            text += f"; kept {self.resumed_docs:,} documents of the earlier run"
        if self.skipped:
            text += f"; skipped {self.skipped:,} bad lines"
        return text


def format_of(path: PathLike, choices: Tuple[str, ...], default: str) -> str:
    """The format a file name's suffix (before any .gz) names, else `default`."""
    suffixes = [s.lstrip(".").lower() for s in Path(path).suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    return suffix if suffix in choices else default


def check_options(
    batch_size: Optional[int], n_process: int, input_format: str, output_format: str, on_error: str
) -> None:
    """Raise ValueError, naming the option, for a setting that cannot work."""
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, not {batch_size}")
    if n_process < 1:
        raise ValueError(f"--n-process must be at least 1, not {n_process}")
    checks = [(input_format, INPUT_FORMATS), (output_format, OUTPUT_FORMATS), (on_error, ON_ERROR)]
    for value, choices in checks:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")


def check_paths(input_path: PathLike, output_path: PathLike, resume: bool = False) -> None:
    """Refuse, before anything is opened, an input that cannot be read, an
    output that cannot be written or that is the input (a link to it too), and
    a `resume` with nothing to resume."""
    if str(input_path) != STDIO:
        source = Path(input_path)
        if source.is_dir():
            raise TagIOError(f"{source}: is a folder, not an input file")
        if not source.is_file():
            raise TagIOError(f"{source}: no such input file")
    if str(output_path) == STDIO:
        if resume:
            raise ValueError("--resume needs an output file, not stdout")
        return
    target = Path(output_path)
    folder = target.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise TagIOError(f"{target}: the folder {folder} {problem}")
    if target.is_dir():
        raise TagIOError(f"{target}: is a folder, not an output file")
    if str(input_path) != STDIO and target.exists() and os.path.samefile(input_path, target):
        raise TagIOError(f"{target}: the output is the input file; tagging would erase it")
    if not os.access(folder, os.W_OK):
        raise TagIOError(f"{target}: the folder {folder} is not writable")
    if resume and not os.path.exists(f"{target}{PARTIAL}"):
        raise TagIOError(f"{target}{PARTIAL}: no such file; nothing to resume")


def tag_file(
    nlp: Language,
    input_path: PathLike,
    output_path: PathLike,
    *,
    input_format: Optional[str] = None,
    output_format: Optional[str] = None,
    batch_size: Optional[int] = None,
    n_process: int = 1,
    on_error: str = "skip",
    resume: bool = False,
    progress: bool = True,
    warn: Optional[Callable[[str], None]] = None,
) -> TagStats:
    """Tag every document of `input_path` and write them to `output_path`.

    input_path, output_path: files (`.gz` is compressed), or "-" for stdin/stdout.
        The output is written to OUTPUT.partial and renamed to OUTPUT when the
        input has been read (up to the line that stopped it, with "stop").
    input_format (str): "text" (one document a line) or "jsonl" ({"text": ...}
        a line); default by suffix: .jsonl is JSONL, anything else text.
    output_format (str): "jsonl" or "conllu"; default by suffix, else JSONL.
    batch_size (int): documents per `nlp.pipe` batch (default: the pipeline's).
    n_process (int): worker processes for `nlp.pipe`.
    on_error (str): at a bad line, "skip" it (and count it) or "stop".
    resume (bool): keep the complete documents of OUTPUT.partial (left by an
        interrupted run) and tag the input lines after them.
    progress (bool): show a progress bar with words/s on stderr.
    warn (Callable[[str], None]): where the bad-line messages go (default:
        stderr, above the progress bar).
    RETURNS (TagStats): documents, words and skipped lines, and the signal if
        SIGINT or SIGTERM ended the run early (the output is then OUTPUT.partial).
    RAISES (BadLineError): with on_error="stop", at the first bad line, after
        writing every document before it.
    RAISES (TagIOError): when a file cannot be read or written; what was tagged
        is kept in OUTPUT.partial.
    """
    input_format = input_format or format_of(input_path, INPUT_FORMATS, "text")
    output_format = output_format or format_of(output_path, OUTPUT_FORMATS, "jsonl")
    check_options(batch_size, n_process, input_format, output_format, on_error)
    check_paths(input_path, output_path, resume)
    write_doc = WRITERS[output_format]
    policy = BadLinePolicy(on_error, warn or _warn)
    stats = TagStats()
    start = time.perf_counter()
    with AtomicOutput(output_path, output_format, resume) as output, stop_on_signals() as signals:
        stats.last_line, stats.resumed_docs = output.resumed_after, output.resumed_docs
        documents = read_documents(input_path, input_format, nlp.max_length)
        texts = policy.texts(documents, after_line=output.resumed_after, stop=signals.received)
        docs = nlp.pipe(texts, as_tuples=True, batch_size=batch_size, n_process=n_process)
        with tqdm(
            unit=" words", unit_scale=True, file=sys.stderr, disable=not progress, mininterval=0.5
        ) as bar:
            try:
                for doc, line_number in docs:
                    write_doc(output.file, doc, line_number)
                    stats.docs += 1
                    stats.words += len(doc)
                    stats.last_line = line_number
                    bar.update(len(doc))
            finally:
                docs.close()  # ends spaCy's worker processes now, on any exit
        stats.interrupted = signals.received()
        if stats.interrupted or policy.read_error:
            output.keep_partial()
    stats.seconds = time.perf_counter() - start
    stats.skipped = policy.skipped
    if policy.read_error:
        raise TagIOError(f"{policy.read_error}{output.kept}")
    if policy.stopped_by:
        raise BadLineError(
            f"{policy.stopped_by} (stopped by --on-error stop after writing {stats.docs:,} documents)"
        )
    return stats


def _warn(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


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


def parse_jsonl_line(line: str) -> Union[str, Problem]:
    try:
        record = json.loads(line)
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
    return text


def finite_or_none(value: Optional[float]) -> Optional[float]:
    """A probability rounded for output; None for a missing or NaN one."""
    return round(value, 4) if value is not None and math.isfinite(value) else None


def doc_to_record(doc: Doc, line_number: int) -> Dict[str, object]:
    """The JSONL record of a tagged Doc: the input line number, the text and
    each token's text, tag, UPOS (or "") and the tag's probability (and top
    tags, if asked for). A probability that is not finite becomes null."""
    tokens = []
    for token in doc:
        entry: Dict[str, object] = {"text": token.text, "tag": token.tag_, "pos": token.pos_}
        entry["prob"] = finite_or_none(token._.get(TAG_PROB))
        top_k = token._.get(TAG_TOP_K)
        if top_k is not None:
            entry["top_k"] = [[tag, finite_or_none(p)] for tag, p in top_k]
        tokens.append(entry)
    return {"line": line_number, "text": doc.text, "tokens": tokens}


def write_jsonl(out: IO[str], doc: Doc, line_number: int) -> None:
    # allow_nan=False: NaN is not JSON; doc_to_record leaves none.
    out.write(json.dumps(doc_to_record(doc, line_number), ensure_ascii=False, allow_nan=False) + "\n")


def conllu_sentences(doc: Doc, line_number: int) -> str:
    """One CoNLL-U sentence per sentence of the Doc (the whole Doc if nothing
    set sentences), with XPOS, UPOS and the tag's probability in MISC
    (`TagProb=`). Whitespace tokens are left out, as in UD."""
    sents = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
    blocks = []
    for n, sent in enumerate(sents, start=1):
        tokens = [token for token in sent if not token.is_space]
        if not tokens:
            continue
        text = " ".join(sent.text.split())
        rows = [f"# sent_id = {line_number}-{n}", f"# text = {text}"]
        for i, token in enumerate(tokens, start=1):
            misc = []
            # Not at the Doc's end: what follows it there is not part of the text.
            following = doc[token.i + 1] if token.i + 1 < len(doc) else None
            if following is not None and not token.whitespace_ and not following.is_space:
                misc.append("SpaceAfter=No")
            prob = finite_or_none(token._.get(TAG_PROB))
            if prob is not None:
                misc.append(f"TagProb={prob:.4f}")
            columns = [str(i), token.text, "_", token.pos_ or "_", token.tag_ or "_"]
            columns += ["_", "_", "_", "_", "|".join(misc) or "_"]
            rows.append("\t".join(columns))
        blocks.append("\n".join(rows) + "\n\n")
    return "".join(blocks)


def write_conllu(out: IO[str], doc: Doc, line_number: int) -> None:
    out.write(conllu_sentences(doc, line_number))


WRITERS = {"jsonl": write_jsonl, "conllu": write_conllu}  # by output format


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


def open_output(path: PathLike, compressed: bool, mode: str = "w") -> IO[str]:
    """A UTF-8 text file, gzipped if `compressed`."""
    if compressed:
        return gzip.open(path, mode + "t", encoding="utf-8", newline="\n")
    return open(path, mode, encoding="utf-8", newline="\n")


class AtomicOutput:
    """The output file, complete or not at all: documents go to OUTPUT.partial,
    which is renamed to OUTPUT when the run ends normally. After a signal or an
    I/O error the partial file stays, and a run with `resume` keeps its complete
    documents (a file cut off mid-document, even a .gz, is read up to its last
    complete one) and continues after them. "-" writes straight to stdout.
    """

    def __init__(self, path: PathLike, output_format: str, resume: bool = False):
        self.path = str(path)
        self.output_format = output_format
        self.resume = resume
        self.compressed = self.path.endswith(".gz")
        self.partial = self.path + PARTIAL
        # A resumed run writes beside the partial file until it ends, so that a
        # resume that is itself killed loses nothing of the first run.
        self.working = self.partial + ".tmp" if resume else self.partial
        self.file: IO[str] = sys.stdout
        self.resumed_after = 0  # the last input line of the kept documents
        self.resumed_docs = 0
        self._keep_partial = False

    def __enter__(self) -> "AtomicOutput":
        if self.path == STDIO:
            return self
        try:
            self.file = open_output(self.working, self.compressed)
        except OSError as err:
            raise TagIOError(f"{self.working}: cannot be written ({err.strerror or err})") from None
        try:
            if self.resume:
                for line_number, text in complete_documents(self.partial, self.output_format, self.compressed):
                    self.file.write(text)
                    self.resumed_after = line_number
                    self.resumed_docs += 1
        except BaseException as err:
            self.__exit__(type(err), err, None)
            raise
        return self

    @property
    def kept(self) -> str:
        """Where an unfinished run's output is, to end a message with."""
        if self.path == STDIO:
            return ""
        return f"; what was tagged is in {self.partial}, and --resume continues it"

    def keep_partial(self) -> None:
        """End as after an error: the output stays in OUTPUT.partial."""
        self._keep_partial = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.path == STDIO:
            try:
                self.file.flush()
            except OSError as err:
                exc = err
            if isinstance(exc, OSError):
                raise TagIOError(f"stdout: cannot be written ({exc.strerror or exc})") from None
            return
        complete = exc_type is None or issubclass(exc_type, BadLineError)
        try:
            self.file.close()
        except OSError as err:
            exc, complete = exc or err, False
        if complete and not self._keep_partial:
            os.replace(self.working, self.path)
            if self.working != self.partial and os.path.exists(self.partial):
                os.remove(self.partial)
            return
        if self.working != self.partial:
            os.replace(self.working, self.partial)
        if isinstance(exc, OSError):
            where = exc.filename or self.partial
            raise TagIOError(f"{where}: cannot be written ({exc.strerror or exc}){self.kept}") from None


def output_lines(path: PathLike, compressed: bool) -> Iterator[str]:
    """The lines of an output file that may be cut off (a gzipped one too)."""
    with (gzip.open(path, "rb") if compressed else open(path, "rb")) as f:
        try:
            for raw in f:
                yield raw.decode("utf-8", errors="replace")
        except GZIP_ERRORS:
            return  # cut off: what came before is all there is


def complete_documents(path: PathLike, output_format: str, compressed: bool) -> Iterator[Tuple[int, str]]:
    """(input line number, output text) of each complete document of an output
    that may be cut off: in JSONL, each whole line; in CoNLL-U, the sentence
    blocks of each document but the last, which may lack some."""
    if output_format == "jsonl":
        for line in output_lines(path, compressed):
            try:
                line_number = json.loads(line)["line"] if line.endswith("\n") else None
            except (ValueError, TypeError, KeyError):
                line_number = None
            if not isinstance(line_number, int):
                return
            yield line_number, line
        return
    # CoNLL-U: a block ends with an empty line, "# sent_id = LINE-N" names its document.
    document: Optional[Tuple[int, str]] = None
    block: List[str] = []
    for line in output_lines(path, compressed):
        block.append(line)
        if line != "\n":
            continue
        sent_id = block[0].partition("# sent_id = ")[2].partition("-")[0]
        if not sent_id.isdigit():
            return
        line_number = int(sent_id)
        if document is not None and document[0] == line_number:
            document = (line_number, document[1] + "".join(block))
        else:
            if document is not None:
                yield document
            document = (line_number, "".join(block))
        block = []


class SignalState:
    """The name of the first stopping signal received, once there is one."""

    def __init__(self):
        self.name: Optional[str] = None

    def received(self) -> Optional[str]:
        return self.name


@contextmanager
def stop_on_signals() -> Iterator[SignalState]:
    """While tagging, the first SIGINT or SIGTERM stops the input instead of
    the program: the documents already read are tagged and written, then the
    run ends. A second one interrupts at once. Forked workers inherit the
    handler, so a Ctrl-C sent to all of them does not kill them mid-batch.
    Signal handlers can only be set in the main thread; elsewhere this does nothing."""
    state = SignalState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handle(signum, frame):
        if state.name is not None:
            raise KeyboardInterrupt
        state.name = signal.Signals(signum).name

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield state
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def add_tag_command(commands: argparse._SubParsersAction) -> None:
    """The `tag` subcommand of `python -m spacy_lstm_tagger`."""
    p = commands.add_parser(
        "tag",
        help="tag a corpus (plain text or JSONL) into JSONL or CoNLL-U",
        description="Tag every document of INPUT with the pipeline MODEL and write "
        "them to OUTPUT, streaming: memory does not grow with the input.",
    )
    p.add_argument("model", help="pipeline: a directory or an installed package name")
    p.add_argument("input", help="plain text, one document a line, or .jsonl with a \"text\" per line (.gz ok; - for stdin)")
    p.add_argument("output", help=".jsonl or .conllu (.gz ok; - for stdout)")
    p.add_argument("--input-format", choices=INPUT_FORMATS, help="default: by INPUT's suffix (.jsonl, else text)")
    p.add_argument("--format", dest="output_format", choices=OUTPUT_FORMATS, help="default: by OUTPUT's suffix, else jsonl")
    p.add_argument("--batch-size", type=int, help="documents per batch (default: the pipeline's)")
    p.add_argument("--n-process", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--on-error", choices=ON_ERROR, default="skip",
        help="at a bad line: skip it and go on (default), or stop",
    )
    p.add_argument(
        "--resume", action="store_true",
        help="continue an interrupted run: keep OUTPUT.partial's documents and tag the lines after them",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument(
        "--engine", choices=ENGINES, default="local",
        help="local: nlp.pipe in this process (default); ray: on a Ray cluster, INPUT a file, "
        "folder or glob of shards, OUTPUT a folder of shards and manifest.json",
    )
    p.add_argument("--address", help="with --engine ray: the cluster to join (default: start one here)")
    p.add_argument("--workers", type=int, help="with --engine ray: tagging actors (default: one per CPU)")


# Exit status after a signal, as a shell reports it: 128 + the signal's number.
SIGNAL_EXIT = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}


def run_tag_command(args: argparse.Namespace) -> None:
    if args.engine == "ray":
        from .ray_tag import run_ray_tag_command  # Ray is an optional extra

        return run_ray_tag_command(args)
    if args.address or args.workers:
        raise ValueError("--address and --workers need --engine ray")
    try:
        stats = tag_command(args)
    except KeyboardInterrupt:  # before tagging began, or a second Ctrl-C
        partial = "" if args.output == STDIO else f"; what was tagged is in {args.output}{PARTIAL}"
        print(f"interrupted{partial}", file=sys.stderr)
        sys.exit(SIGNAL_EXIT["SIGINT"])
    if not args.quiet:
        print(stats.summary(), file=sys.stderr)
    if stats.interrupted:
        where = "" if args.output == STDIO else (
            f": {stats.resumed_docs + stats.docs:,} documents are in {args.output}{PARTIAL}; "
            "run again with --resume to continue"
        )
        print(f"interrupted by {stats.interrupted} after input line {stats.last_line:,}{where}", file=sys.stderr)
        sys.exit(SIGNAL_EXIT[stats.interrupted])


def tag_command(args: argparse.Namespace) -> TagStats:
    input_format = args.input_format or format_of(args.input, INPUT_FORMATS, "text")
    output_format = args.output_format or format_of(args.output, OUTPUT_FORMATS, "jsonl")
    # Refuse what cannot work before the slow part, loading the pipeline.
    check_options(args.batch_size, args.n_process, input_format, output_format, args.on_error)
    check_paths(args.input, args.output, args.resume)
    try:
        nlp = spacy.load(args.model)
    except OSError as err:  # spaCy's "can't find model": no traceback for that
        raise FileNotFoundError(f"cannot load the pipeline {args.model!r}: {err}") from None
    try:
        return tag_file(
            nlp,
            args.input,
            args.output,
            input_format=input_format,
            output_format=output_format,
            batch_size=args.batch_size,
            n_process=args.n_process,
            on_error=args.on_error,
            resume=args.resume,
            progress=not args.quiet,
        )
    except TagIOError:
        if args.output == STDIO:
            # Python would report the broken pipe again when flushing at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise
