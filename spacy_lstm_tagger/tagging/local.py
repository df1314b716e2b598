"""Tag a corpus of any size: `python -m spacy_lstm_tagger tag MODEL INPUT OUTPUT`.

The input (plain text, one document a line, or JSONL with a "text" per line) is
read lazily, tagged by `nlp.pipe` in batches and written as it comes, so memory
does not grow with the input. The pieces are the modules beside this one, which the
Ray engine reuses: reading.py (line number, text or Problem, and the policy that
skips or stops at bad lines), writing.py (a tagged Doc as output), output.py (a
file renamed into place only when complete; otherwise kept as OUTPUT.partial for
`--resume`) and signals.py.
"""
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Tuple

from spacy.language import Language
from tqdm import tqdm

from ..data.pipelines import load_pipeline
from ..types import PathLike
from .errors import BadLineError, TagIOError
from .output import (
    PARTIAL, AtomicOutput, check_no_leftovers, model_digest, run_files, run_origin,
    stream_kind, unwritable_kind, written_path,
)
from .reading import STDIO, BadLinePolicy, fields_of, read_documents
from .signals import stop_on_signals
from .writing import OUTPUT_FORMATS, writer_for

INPUT_FORMATS = ("text", "jsonl")
ON_ERROR = ("skip", "stop")


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
    """Refuse, before anything is opened, an input that cannot be read or that
    the run would write (the output, a link to it, its working files), an
    output that cannot be written or is no file, device or FIFO to write, and
    a `resume` with nothing to resume (or an output written straight into)."""
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
    problem = unwritable_kind(output_path)
    if problem == "a folder":
        raise TagIOError(f"{output_path}: is a folder, not an output file")
    if problem:
        raise TagIOError(f"{output_path}: is {problem}; the output must be a file, a character device or a FIFO")
    stream = stream_kind(output_path)
    if stream and resume:
        raise ValueError(f"{output_path}: is {stream}, written as the run goes; --resume needs an output file")
    if stream:  # written into as it is: no folder to write in
        if str(input_path) != STDIO:
            check_input_is_kept(input_path, run_files(output_path))
        return
    target = Path(written_path(output_path))  # a link's target, replaced as a file is
    folder = target.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise TagIOError(f"{target}: the folder {folder} {problem}")
    if str(input_path) != STDIO:
        check_input_is_kept(input_path, run_files(output_path))
    if not os.access(folder, os.W_OK):
        raise TagIOError(f"{target}: the folder {folder} is not writable")
    if resume and str(input_path) == STDIO:
        raise ValueError("--resume needs an input file, not stdin, to check the partial output against")
    if resume and not os.path.lexists(f"{target}{PARTIAL}"):
        raise TagIOError(f"{target}{PARTIAL}: no such file; nothing to resume")
    if not resume:
        check_no_leftovers(output_path)


def check_input_is_kept(input_path: PathLike, written: Iterable[Tuple[str, str]]) -> None:
    """Refuse an input that is one of the files a run writes, replaces or
    deletes (`written`: (path, what it is), as `run_files` gives them), by any
    path to it: a symbolic link, a hard link or a folder reached through one."""
    source = os.path.realpath(input_path)
    for path, what in written:
        same = os.path.realpath(path) == source or (
            os.path.exists(path) and os.path.samefile(input_path, path)
        )
        if not same:
            continue
        if what == "the output":
            raise TagIOError(f"{path}: the output is the input file; tagging would erase it")
        raise TagIOError(f"{input_path}: the input is {what} {path}; tagging would overwrite it")


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
        interrupted run) and tag the input lines after them. Only a partial
        output that this input, model and output format wrote (as recorded in
        OUTPUT.partial.origin.json), each document holding its input line's
        text, is kept; any other is refused, never deleted. Without `resume`,
        an existing OUTPUT.partial is refused, not overwritten.
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
    write_doc = writer_for(output_format, nlp)
    policy = BadLinePolicy(on_error, warn or warn_above_progress)
    stats = TagStats()
    start = time.perf_counter()
    origin = None
    if str(input_path) != STDIO and not stream_kind(output_path):
        origin = run_origin(input_path, input_format, output_format, model_digest(nlp))
    output = AtomicOutput(
        output_path, output_format, resume, origin,
        input_documents=lambda: read_documents(input_path, input_format, nlp.max_length),
    )
    with output, stop_on_signals() as signals:
        stats.last_line, stats.resumed_docs = output.resumed_after, output.resumed_docs
        documents = read_documents(input_path, input_format, nlp.max_length)
        texts = (
            (str(text), (line_number, fields_of(text)))
            for text, line_number in policy.texts(documents, after_line=output.resumed_after, stop=signals.received)
        )
        docs = nlp.pipe(texts, as_tuples=True, batch_size=batch_size, n_process=n_process)
        with tqdm(
            unit=" words", unit_scale=True, file=sys.stderr, disable=not progress, mininterval=0.5
        ) as bar:
            try:
                for doc, (line_number, fields) in docs:
                    write_doc(output.file, doc, line_number, fields)
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


def warn_above_progress(message: str) -> None:
    """Print a message to stderr above the progress bar."""
    tqdm.write(message, file=sys.stderr)


def tag_with_pipeline(
    model: str,
    input_path: PathLike,
    output_path: PathLike,
    *,
    input_format: Optional[str] = None,
    output_format: Optional[str] = None,
    **options,
) -> TagStats:
    """`tag_file` with the pipeline `model` (a directory or an installed
    package), loaded only after the options and paths have been checked, since
    loading is the slow part. `options` are tag_file's."""
    input_format = input_format or format_of(input_path, INPUT_FORMATS, "text")
    output_format = output_format or format_of(output_path, OUTPUT_FORMATS, "jsonl")
    check_options(
        options.get("batch_size"), options.get("n_process", 1), input_format, output_format,
        options.get("on_error", "skip"),
    )
    check_paths(input_path, output_path, options.get("resume", False))
    nlp = load_pipeline(model)
    return tag_file(
        nlp, input_path, output_path, input_format=input_format, output_format=output_format, **options
    )
