"""The output of `tag`: a file that is complete or not there at all.

Documents go to OUTPUT.partial, renamed to OUTPUT when the run ends normally;
after a signal or an I/O error the partial file stays, and `--resume` keeps its
complete documents and continues after them.
"""
import gzip
import hashlib
import json
import os
import stat
import sys
from typing import IO, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from ..types import PathLike
from .errors import BadLineError, Problem, TagIOError
from .reading import GZIP_ERRORS, STDIO

PARTIAL = ".partial"  # suffix of an output that is not complete yet
RESUMING = ".tmp"  # after PARTIAL: where a resumed run writes until it ends
ORIGIN = ".origin.json"  # after PARTIAL: what the partial output is the output of


def written_path(path: PathLike) -> str:
    """Where the output `path` is written: the target of a symbolic link (the
    link stays, and its target is replaced as a file is), else `path`."""
    path = str(path)
    return os.path.realpath(path) if path != STDIO and os.path.islink(path) else path


# What an existing output path is, and how `tag` writes it: "stream" straight
# into it, "file" through a partial file and a rename, None not at all.
_KINDS = (
    (stat.S_ISREG, "a file", "file"),
    (stat.S_ISCHR, "a character device", "stream"),
    (stat.S_ISFIFO, "a FIFO", "stream"),
    (stat.S_ISDIR, "a folder", None),
    (stat.S_ISBLK, "a block device", None),
    (stat.S_ISSOCK, "a socket", None),
)


def _existing_kind(path: PathLike) -> Optional[Tuple[str, Optional[str]]]:
    """(what it is, how tag writes it) of an existing path, through links
    (/dev/stdout is one); ("not a file", None) for a kind not in _KINDS; None
    where nothing is there."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for is_kind, name, written in _KINDS:
        if is_kind(mode):
            return name, written
    return "not a file", None


def stream_kind(path: PathLike) -> Optional[str]:
    """"stdout", "a character device" or "a FIFO" for an output that is written
    straight into, not through a partial file and a rename; None for a file."""
    if str(path) == STDIO:
        return "stdout"
    kind = _existing_kind(path)
    return kind[0] if kind and kind[1] == "stream" else None


def unwritable_kind(path: PathLike) -> Optional[str]:
    """What an existing output is, where it is none that `tag` writes: neither a
    file to replace nor a character device or FIFO to write into."""
    kind = _existing_kind(path)
    return kind[0] if kind and kind[1] is None else None


def partial_of(path: PathLike) -> Optional[str]:
    """OUTPUT.partial, where a run that ends early keeps what it wrote; None
    for an output written straight into (stdout, a device, a FIFO)."""
    return None if stream_kind(path) else written_path(path) + PARTIAL


def run_files(path: PathLike) -> List[Tuple[str, str]]:
    """(path, what it is) of every file that a run writing OUTPUT `path` may
    write, replace or delete: an input that is one of them would be lost."""
    path = str(path)
    if path == STDIO:
        return []
    files = [(path, "the output")]
    if stream_kind(path):
        return files
    target = written_path(path)
    if target != path:
        files.append((target, "the output (through the link)"))
    return files + [
        (target + PARTIAL, "the output's working file"),
        (target + PARTIAL + RESUMING, "the output's working file for --resume"),
        (target + PARTIAL + ORIGIN, "the record of what the output's working file holds"),
    ]


def run_origin(
    input_path: PathLike, input_format: str, output_format: str, model_digest: str
) -> Dict[str, object]:
    """What a partial output is the output of: the input (its resolved path,
    size and modification time), its format, the output format and the
    model's digest. A run writes it beside OUTPUT.partial before any document,
    and `--resume` keeps a partial output only where it is the same."""
    info = os.stat(input_path)
    return {
        "input": os.path.realpath(input_path),
        "input_size": info.st_size,
        "input_mtime_ns": info.st_mtime_ns,
        "input_format": input_format,
        "output_format": output_format,
        "model_sha256": model_digest,
    }


def origin_difference(recorded: Dict[str, object], current: Dict[str, object]) -> Optional[str]:
    """How a partial output's recorded origin differs from this run's, in words."""
    if recorded.get("input") != current["input"]:
        return f"it was written from another input ({recorded.get('input')})"
    if any(recorded.get(key) != current[key] for key in ("input_size", "input_mtime_ns")):
        return "its input has changed since it was written (size or modification time)"
    for key in ("input_format", "output_format"):
        if recorded.get(key) != current[key]:
            return f"it was written with another {key.replace('_', ' ')} ({recorded.get(key)})"
    if recorded.get("model_sha256") != current["model_sha256"]:
        return "it was written by another model"
    return None


def model_digest(nlp) -> str:
    """The SHA-256 of a pipeline's serialized components and settings (not its
    vocabulary, which grows as it tags)."""
    return hashlib.sha256(nlp.to_bytes(exclude=["vocab"])).hexdigest()


def check_no_leftovers(path: PathLike) -> None:
    """Refuse to start afresh where an earlier run left a partial output (or
    its origin, or an unfinished resume): that is for --resume, or the user, to
    deal with, not to overwrite."""
    partial = written_path(path) + PARTIAL
    for leftover in (partial, partial + RESUMING, partial + ORIGIN):
        if os.path.lexists(leftover):
            raise TagIOError(
                f"{leftover}: left by an earlier run; run again with --resume to continue it, "
                "or delete it to start over"
            )


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
    complete one) and continues after them.

    "-" writes straight to stdout, and an output that is a character device
    (/dev/null) or a FIFO straight into it: it stays what it is, and a run that
    ends early keeps nothing to resume. A symbolic link is written through: its
    target is written as any output file is (OUTPUT.partial beside the target,
    then renamed onto it), and the link stays.
    """

    def __init__(
        self,
        path: PathLike,
        output_format: str,
        resume: bool = False,
        origin: Optional[Dict[str, object]] = None,
        input_documents: Optional[Callable[[], Iterable[Tuple[int, Union[str, Problem]]]]] = None,
    ):
        """origin (dict): what the output is the output of (`run_origin`),
            written beside OUTPUT.partial; `resume` needs it, and keeps a
            partial output only where its recorded origin is the same.
        input_documents: (line number, text or Problem) of the input, as
            `read_documents` gives them, against which `resume` checks every
            kept document: its line is a document of the input, after the one
            before it, and it holds that line's text."""
        self.stream = stream_kind(path)
        if self.stream and resume:
            raise ValueError(f"{path}: is {self.stream}, written as the run goes; --resume needs an output file")
        if resume and (origin is None or input_documents is None):
            raise ValueError("resume needs the run's origin and input documents to check the partial output against")
        self.path = str(path) if self.stream else written_path(path)
        self.output_format = output_format
        self.resume = resume
        self.origin = origin
        self.input_documents = input_documents
        self.compressed = self.path.endswith(".gz")
        self.partial = self.path + PARTIAL
        self.origin_path = self.partial + ORIGIN
        # A resumed run writes beside the partial file until it ends, so that a
        # resume that is itself killed loses nothing of the first run.
        self.working = self.partial + RESUMING if resume else self.partial
        self.file: IO[str] = sys.stdout
        self.resumed_after = 0  # the last input line of the kept documents
        self.resumed_docs = 0
        self._keep_partial = False

    def __enter__(self) -> "AtomicOutput":
        if self.path == STDIO:
            return self
        if self.stream:
            self.working = self.path  # written into, never renamed
            self.file = self._open(self.path, "w")
            return self
        if self.resume:
            self._check_resumable()
        else:
            check_no_leftovers(self.path)
            if self.origin is not None:
                with self._open(self.origin_path, "x", compressed=False) as f:
                    f.write(json.dumps(self.origin, indent=2, ensure_ascii=False) + "\n")
        # "x": a file that appeared meanwhile is not overwritten either.
        self.file = self._open(self.working, "x")
        if self.resume:
            try:
                self._keep_documents()
            except BaseException:
                self.file.close()
                os.remove(self.working)  # written by this run only
                raise
        return self

    def _open(self, path: str, mode: str, compressed: Optional[bool] = None) -> IO[str]:
        try:
            return open_output(path, self.compressed if compressed is None else compressed, mode)
        except FileExistsError:
            raise TagIOError(f"{path}: appeared while this run started; it is left as it is") from None
        except OSError as err:
            raise TagIOError(f"{path}: cannot be written ({err.strerror or err})") from None

    def _refuse(self, problem: str) -> TagIOError:
        return TagIOError(
            f"{self.partial}: {problem}, so it is not known to be the partial output of this "
            "input, model and format; resume with those that wrote it, or delete it "
            f"(and {self.origin_path}) to start over"
        )

    def _check_resumable(self) -> None:
        """Refuse a partial output that is not provably this run's: no regular
        file, an unfinished resume beside it, no origin or another one."""
        if os.path.lexists(self.partial + RESUMING):
            raise TagIOError(
                f"{self.partial + RESUMING}: left by a resumed run that was killed; delete it "
                f"({self.partial} holds what that run started from) and resume again"
            )
        if not os.path.lexists(self.partial):
            raise TagIOError(f"{self.partial}: no such file; nothing to resume")
        if not stat.S_ISREG(os.lstat(self.partial).st_mode):
            raise self._refuse("is not a regular file")
        try:
            with open(self.origin_path, encoding="utf-8") as f:
                origin = json.load(f)
        except FileNotFoundError:
            raise self._refuse(f"there is no {self.origin_path} saying what it holds") from None
        except (OSError, ValueError) as err:
            raise self._refuse(f"{self.origin_path} cannot be read ({err})") from None
        if not isinstance(origin, dict):
            raise self._refuse(f"{self.origin_path} is not a record of its origin")
        problem = origin_difference(origin, self.origin)
        if problem:
            raise self._refuse(problem)

    def _keep_documents(self) -> None:
        """Copy the partial output's complete documents, each checked against
        the input line it names."""
        documents = iter(self.input_documents())
        for line_number, text in complete_documents(self.partial, self.output_format, self.compressed):
            if line_number <= self.resumed_after:
                raise self._refuse(f"its input line {line_number:,} comes after line {self.resumed_after:,}")
            for number, document in documents:
                if number >= line_number:
                    break
            else:
                raise self._refuse(f"its input line {line_number:,} is past the input's end")
            if number != line_number or not same_text(document, text, self.output_format):
                raise self._refuse(f"its document of input line {line_number:,} is not that line's")
            self.file.write(text)
            self.resumed_after = line_number
            self.resumed_docs += 1

    @property
    def kept(self) -> str:
        """Where an unfinished run's output is, to end a message with."""
        if self.stream:
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
        if self.stream:
            if isinstance(exc, OSError):
                raise TagIOError(f"{self.path}: cannot be written ({exc.strerror or exc})") from None
            return
        if complete and not self._keep_partial:
            os.replace(self.working, self.path)
            # The partial output this run resumed, and its origin, proven this run's.
            if self.working != self.partial and os.path.exists(self.partial):
                os.remove(self.partial)
            if self.origin is not None and os.path.exists(self.origin_path):
                os.remove(self.origin_path)
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


def same_text(document: Union[str, Problem], output: str, output_format: str) -> bool:
    """Whether a document's output text (a JSONL record or CoNLL-U sentences)
    holds the input text `document`, whitespace aside (CoNLL-U keeps a space
    between sentences)."""
    if isinstance(document, Problem):
        return False
    if output_format == "jsonl":
        try:
            text = json.loads(output)["text"]
        except (ValueError, TypeError, KeyError):
            return False
    else:
        text = "".join(
            line[len("# text = "):] for line in output.splitlines() if line.startswith("# text = ")
        )
    return isinstance(text, str) and "".join(text.split()) == "".join(document.split())
