"""The output of `tag`: a file that is complete or not there at all.

Documents go to OUTPUT.partial, renamed to OUTPUT when the run ends normally;
after a signal or an I/O error the partial file stays, and `--resume` keeps its
complete documents and continues after them.
"""
import gzip
import json
import os
import stat
import sys
from typing import IO, Iterator, List, Optional, Tuple

from ..types import PathLike
from .errors import BadLineError, TagIOError
from .reading import GZIP_ERRORS, STDIO

PARTIAL = ".partial"  # suffix of an output that is not complete yet
RESUMING = ".tmp"  # after PARTIAL: where a resumed run writes until it ends


def written_path(path: PathLike) -> str:
    """Where the output `path` is written: the target of a symbolic link (the
    link stays, and its target is replaced as a file is), else `path`."""
    path = str(path)
    return os.path.realpath(path) if path != STDIO and os.path.islink(path) else path


def stream_kind(path: PathLike) -> Optional[str]:
    """"stdout", "a character device" or "a FIFO" for an output that is written
    straight into, not through a partial file and a rename; None for a file."""
    if str(path) == STDIO:
        return "stdout"
    try:
        mode = os.stat(path).st_mode  # through links: /dev/stdout is one
    except OSError:
        return None
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    return None


def unwritable_kind(path: PathLike) -> Optional[str]:
    """What an existing output is, where it is none that `tag` writes: neither a
    file to replace nor a character device or FIFO to write into."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None if stat.S_ISREG(mode) or stream_kind(path) else "not a file"


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
    ]


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

    def __init__(self, path: PathLike, output_format: str, resume: bool = False):
        self.stream = stream_kind(path)
        if self.stream and resume:
            raise ValueError(f"{path}: is {self.stream}, written as the run goes; --resume needs an output file")
        self.path = str(path) if self.stream else written_path(path)
        self.output_format = output_format
        self.resume = resume
        self.compressed = self.path.endswith(".gz")
        self.partial = self.path + PARTIAL
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
