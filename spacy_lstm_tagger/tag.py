"""Tag a corpus of any size: `python -m spacy_lstm_tagger tag MODEL INPUT OUTPUT`.

The input (plain text, one document a line, or JSONL with a "text" per line) is
read lazily, tagged by `nlp.pipe` in batches and written as it comes, so memory
does not grow with the input. A bad input line is reported with its number, then
skipped or ends the run, as asked.
"""
import argparse
import gzip
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Dict, Iterator, List, Optional, Tuple, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from tqdm import tqdm

from .confidence import TAG_PROB, TAG_TOP_K

PathLike = Union[str, Path]
INPUT_FORMATS = ("text", "jsonl")
OUTPUT_FORMATS = ("jsonl", "conllu")
ON_ERROR = ("skip", "stop")
ENGINES = ("local", "ray")
STDIO = "-"


class BadLineError(ValueError):
    """An input line that `--on-error stop` does not get past."""


@dataclass
class TagStats:
    """What a run did."""

    docs: int = 0
    words: int = 0
    skipped: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        speed = self.words / self.seconds if self.seconds else 0.0
        text = (
            f"tagged {self.docs:,} documents ({self.words:,} words) in "
            f"{self.seconds:.1f} s, {speed:,.0f} words/s"
        )
        if self.skipped:
            text += f"; skipped {self.skipped:,} bad lines"
        return text


def format_of(path: PathLike, choices: Tuple[str, ...], default: str) -> str:
    """The format a file name's suffix (before any .gz) names, else `default`."""
    suffixes = [s.lstrip(".").lower() for s in Path(path).suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    return suffix if suffix in choices else default


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
    progress: bool = True,
    warn: Optional[Callable[[str], None]] = None,
) -> TagStats:
    """Tag every document of `input_path` and write them to `output_path`.

    input_path, output_path: files (`.gz` is compressed), or "-" for stdin/stdout.
    input_format (str): "text" (one document a line) or "jsonl" ({"text": ...}
        a line); default by suffix: .jsonl is JSONL, anything else text.
    output_format (str): "jsonl" or "conllu"; default by suffix, else JSONL.
    batch_size (int): documents per `nlp.pipe` batch (default: the pipeline's).
    n_process (int): worker processes for `nlp.pipe`.
    on_error (str): at a bad JSONL line, "skip" it (and count it) or "stop".
    progress (bool): show a progress bar with words/s on stderr.
    warn (Callable[[str], None]): where the bad-line messages go (default:
        stderr, above the progress bar).
    RETURNS (TagStats): documents, words and skipped lines.
    RAISES (BadLineError): with on_error="stop", at the first bad line, after
        writing every document before it.
    """
    input_format = input_format or format_of(input_path, INPUT_FORMATS, "text")
    output_format = output_format or format_of(output_path, OUTPUT_FORMATS, "jsonl")
    checks = [(input_format, INPUT_FORMATS), (output_format, OUTPUT_FORMATS), (on_error, ON_ERROR)]
    for value, choices in checks:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
    if warn is None:
        warn = _warn
    write_doc = write_conllu if output_format == "conllu" else write_jsonl
    stats = TagStats()
    stop: List[str] = []  # the message of the line that stopped the run

    def texts(lines: IO[str]) -> Iterator[Tuple[str, int]]:
        for line_number, text in read_texts(lines, input_format):
            if isinstance(text, str):
                yield text, line_number
                continue
            message = f"line {line_number}: {text.problem}"
            if on_error == "stop":
                stop.append(message)
                return  # the documents before it are still tagged and written
            stats.skipped += 1
            warn(f"{message} (skipped)")

    start = time.perf_counter()
    with open_text(input_path, "r") as lines, open_text(output_path, "w") as out:
        docs = nlp.pipe(texts(lines), as_tuples=True, batch_size=batch_size, n_process=n_process)
        with tqdm(
            unit=" words", unit_scale=True, file=sys.stderr, disable=not progress, mininterval=0.5
        ) as bar:
            for doc, line_number in docs:
                write_doc(out, doc, line_number)
                stats.docs += 1
                stats.words += len(doc)
                bar.update(len(doc))
    stats.seconds = time.perf_counter() - start
    if stop:
        raise BadLineError(f"{stop[0]} (stopped by --on-error stop after writing {stats.docs:,} documents)")
    return stats


def _warn(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


@dataclass
class Problem:
    """Why an input line holds no document."""

    problem: str


def read_texts(lines: IO[str], input_format: str) -> Iterator[Tuple[int, Union[str, Problem]]]:
    """(line number, text or Problem) for each document line. In text, every line
    is a document (an empty one too, so that output and input lines match); in
    JSONL, blank lines are passed over."""
    for line_number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if input_format == "text":
            yield line_number, line
        elif line.strip():
            yield line_number, parse_jsonl_line(line)


def parse_jsonl_line(line: str) -> Union[str, Problem]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return Problem(f"invalid JSON ({err})")
    if not isinstance(record, dict) or "text" not in record:
        return Problem('expected an object with a "text" string')
    if not isinstance(record["text"], str):
        return Problem(f'"text" must be a string, not {type(record["text"]).__name__}')
    return record["text"]


def write_jsonl(out: IO[str], doc: Doc, line_number: int) -> None:
    """One JSON object: the input line number, the text and each token's text,
    tag, UPOS (or "") and the tag's probability (and top tags, if asked for)."""
    tokens = []
    for token in doc:
        entry: Dict[str, object] = {"text": token.text, "tag": token.tag_, "pos": token.pos_}
        prob = token._.get(TAG_PROB)
        entry["prob"] = None if prob is None else round(prob, 4)
        top_k = token._.get(TAG_TOP_K)
        if top_k is not None:
            entry["top_k"] = [[tag, round(p, 4)] for tag, p in top_k]
        tokens.append(entry)
    record = {"line": line_number, "text": doc.text, "tokens": tokens}
    out.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_conllu(out: IO[str], doc: Doc, line_number: int) -> None:
    """One CoNLL-U sentence per sentence of the Doc (the whole Doc if nothing
    set sentences), with XPOS, UPOS and the tag's probability in MISC
    (`TagProb=`). Whitespace tokens are left out, as in UD."""
    sents = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
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
            prob = token._.get(TAG_PROB)
            if prob is not None:
                misc.append(f"TagProb={prob:.4f}")
            columns = [str(i), token.text, "_", token.pos_ or "_", token.tag_ or "_"]
            columns += ["_", "_", "_", "_", "|".join(misc) or "_"]
            rows.append("\t".join(columns))
        out.write("\n".join(rows) + "\n\n")


@contextmanager
def open_text(path: PathLike, mode: str) -> Iterator[IO[str]]:
    """A UTF-8 text file (gzipped if it ends in .gz), or stdin/stdout for "-"."""
    if str(path) == STDIO:
        yield sys.stdin if mode == "r" else sys.stdout
        return
    path = Path(path)
    if mode == "w":
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        f = gzip.open(path, mode + "t", encoding="utf-8")
    else:
        f = path.open(mode, encoding="utf-8")
    with f:
        yield f


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
        help="at a bad JSONL line: skip it and go on (default), or stop",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument(
        "--engine", choices=ENGINES, default="local",
        help="local: nlp.pipe in this process (default); ray: on a Ray cluster, INPUT a file, "
        "folder or glob of shards, OUTPUT a folder of shards and manifest.json",
    )
    p.add_argument("--address", help="with --engine ray: the cluster to join (default: start one here)")
    p.add_argument("--workers", type=int, help="with --engine ray: tagging actors (default: one per CPU)")


def run_tag_command(args: argparse.Namespace) -> None:
    if args.engine == "ray":
        from .ray_tag import run_ray_tag_command  # Ray is an optional extra

        return run_ray_tag_command(args)
    if args.address or args.workers:
        raise ValueError("--address and --workers need --engine ray")
    try:
        nlp = spacy.load(args.model)
    except OSError as err:  # spaCy's "can't find model": no traceback for that
        raise FileNotFoundError(f"cannot load the pipeline {args.model!r}: {err}") from None
    stats = tag_file(
        nlp,
        args.input,
        args.output,
        input_format=args.input_format,
        output_format=args.output_format,
        batch_size=args.batch_size,
        n_process=args.n_process,
        on_error=args.on_error,
        progress=not args.quiet,
    )
    if not args.quiet:
        print(stats.summary(), file=sys.stderr)
