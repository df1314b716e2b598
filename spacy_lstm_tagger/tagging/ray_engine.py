"""Tag corpora bigger than one machine on Ray Data: `tag MODEL INPUT OUTPUT --engine ray`.

Ray tasks read the input shards with `tag`'s own reader (`read_documents`:
line numbers, and bad lines as Problems); a pool of actors, each holding the
pipeline loaded once from its path or installed package (never sent through the
object store), tags them with `tag`'s writers; the records come back to this
process in input order, which passes them through `tag`'s BadLinePolicy and
writes one AtomicOutput per input shard, so that each is the file `tag` writes
for that shard. Ray restarts a worker that dies and redoes its blocks, and this
process receives every block once: each line is written once.
"""
import glob
import io
import itertools
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import spacy
import torch
from tqdm import tqdm

try:
    import ray
    import ray.data
except ImportError:
    raise ImportError(
        "--engine ray needs Ray Data: pip install 'spacy-lstm-tagger[ray]'"
    ) from None

from ..data.pipelines import load_pipeline
from ..pipeline.confidence import MORPH_PROB, TAG_PROB
from ..types import PathLike
from .errors import BadLineError, Problem, TagIOError
from .local import INPUT_FORMATS, check_input_is_kept, check_options, check_paths, format_of, warn_above_progress
from .output import (
    PARTIAL, AtomicOutput, check_no_leftovers, model_digest, origin_difference, run_files, run_origin,
)
from .signals import stop_on_signals
from .reading import BadLinePolicy, fields_of, read_documents
from .writing import token_value, writer_for, written_fields
MANIFEST = "manifest.json"
# Input per block, the unit of work that Ray schedules and redoes after a worker
# dies: small enough to spread a shard over workers, large enough to be cheap.
BLOCK_BYTES = 1 << 20


def tag_dataset(
    dataset: "ray.data.Dataset",
    model: PathLike,
    *,
    text_column: str = "text",
    workers: Optional[int] = None,
    batch_size: int = 256,
) -> "ray.data.Dataset":
    """Tag the texts of a Ray Dataset, lazily, with a pool of actors.

    dataset (ray.data.Dataset): one document a row, in `text_column`.
    model (str / Path): a pipeline directory that every node can read (shared
        storage), or the name of a package installed on every node.
    text_column (str): the column holding the texts.
    workers (int): actors, one CPU each (default: as many as the cluster has room for).
    batch_size (int): rows an actor tags at once.
    RETURNS (ray.data.Dataset): the input's columns and, per row, lists of the
        tokens' "tokens" (texts), "tags", "pos" (UPOS, "" if not predicted) and
        "probs" (each tag's probability); with a pipeline that writes them (as
        `tag`'s JSONL fields), "morph" (FEATS strings) with "morph_probs" (their
        probabilities), and "lemmas" ("" for none).
    """
    return _map_tagger(dataset, model, text_column, None, workers, batch_size)


class TagBatch:
    """A Ray Data actor that loads the pipeline once and tags batches of rows.

    With an output format it writes each row's record in that format (as `tag`
    does) into a "record" column, passing over rows with a "problem" (a bad
    line, or the shard's read error), and counts
    the "words"; without one it adds the token columns of `tag_dataset`.
    """

    def __init__(self, model: str, text_column: str, output_format: Optional[str]):
        torch.set_num_threads(1)  # one actor a CPU: more threads would fight over it
        self.nlp = spacy.load(model)
        self.text_column = text_column
        self.write = writer_for(output_format, self.nlp) if output_format else None
        self.fields = written_fields(self.nlp)

    def __call__(self, batch: Dict[str, numpy.ndarray]) -> Dict[str, numpy.ndarray]:
        if self.text_column not in batch:
            raise ValueError(f"no column {self.text_column!r} to tag (columns: {', '.join(batch)})")
        texts = batch[self.text_column]
        for text in texts:
            if not isinstance(text, str):
                raise ValueError(f"column {self.text_column!r} holds {type(text).__name__} {text!r}, not a string")
        # Strings that spaCy learns from these texts are freed after the batch,
        # so that a long-lived actor's memory stays flat.
        with self.nlp.memory_zone():
            if self.write is None:
                batch.update(token_columns(self.nlp.pipe(texts), self.fields))
            else:
                batch.update(self.records(texts, batch["line"], batch["problem"], batch.get("fields")))
        return batch

    def records(self, texts, lines, problems, fields=None) -> Dict[str, numpy.ndarray]:
        """fields: each row's other input fields, as JSON ("" for none)."""
        records = numpy.full(len(texts), "", dtype=object)
        words = numpy.zeros(len(texts), dtype=numpy.int64)
        rows = [i for i, problem in enumerate(problems) if not problem]
        for i, doc in zip(rows, self.nlp.pipe(texts[i] for i in rows)):
            out = io.StringIO()
            self.write(out, doc, int(lines[i]), json.loads(fields[i]) if fields is not None and fields[i] else None)
            records[i] = out.getvalue()
            words[i] = len(doc)
        return {"record": records, "words": words}


# The Dataset column of each of writing.EXTRA_FIELDS.
FIELD_COLUMNS = {"morph": "morph", "lemma": "lemmas"}


def token_columns(docs: Iterator, fields: Sequence[str] = ()) -> Dict[str, numpy.ndarray]:
    """The token columns of `tag_dataset`, with a column for each of the
    `fields` (writing.EXTRA_FIELDS) that the pipeline writes."""
    extra = {FIELD_COLUMNS[field]: field for field in fields}
    columns: Dict[str, list] = {"tokens": [], "tags": [], "pos": [], **{name: [] for name in extra}, "probs": []}
    if "morph" in fields:
        columns["morph_probs"] = []
    for doc in docs:
        columns["tokens"].append([token.text for token in doc])
        columns["tags"].append([token.tag_ for token in doc])
        columns["pos"].append([token.pos_ for token in doc])
        for name, field in extra.items():
            columns[name].append([token_value(token, field) for token in doc])
        columns["probs"].append([token._.get(TAG_PROB) for token in doc])
        if "morph" in fields:
            columns["morph_probs"].append([token._.get(MORPH_PROB) for token in doc])
    return {name: _object_array(values) for name, values in columns.items()}


def _object_array(values: list) -> numpy.ndarray:
    """A 1-d array of lists (numpy.array would make ragged lists 2-d or fail)."""
    array = numpy.empty(len(values), dtype=object)
    array[:] = values
    return array


def _map_tagger(dataset, model, text_column, output_format, workers, batch_size):
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    model = str(model)
    if Path(model).exists():  # a path, read by the actors: their working folder may differ
        model = str(Path(model).resolve())
    pool = ray.data.ActorPoolStrategy(size=workers) if workers else ray.data.ActorPoolStrategy(min_size=1)
    return dataset.map_batches(
        TagBatch,
        fn_constructor_kwargs={"model": model, "text_column": text_column, "output_format": output_format},
        batch_size=batch_size,
        batch_format="numpy",
        compute=pool,
        num_cpus=1,
    )


@dataclass
class ShardStats:
    """What a run did with one input shard; a line of the manifest."""

    input: str
    output: str
    lines: int = 0
    words: int = 0
    failed_lines: int = 0
    complete: bool = False  # written to its end (or to the line that stopped the run)
    origin: Optional[Dict[str, object]] = None  # run_origin: what --resume checks


@dataclass
class Manifest:
    """`manifest.json` of an output folder."""

    model: Dict[str, str]
    engine: str
    workers: int
    shards: List[ShardStats]
    lines: int = 0
    words: int = 0
    failed_lines: int = 0
    seconds: float = 0.0
    stopped: Optional[str] = None  # the bad line that `--on-error stop` stopped at
    interrupted: Optional[str] = None  # the signal that ended the run; --resume goes on

    def write(self, folder: Path) -> None:
        for total in ("lines", "words", "failed_lines"):
            setattr(self, total, sum(getattr(shard, total) for shard in self.shards))
        with AtomicOutput(folder / MANIFEST, "json") as output:
            output.file.write(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")


def input_shards(input_path: PathLike) -> List[Path]:
    """The files INPUT names: a file, the files of a folder, or a glob's matches."""
    path = Path(input_path)
    if path.is_dir():
        shards = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
    elif path.is_file():
        shards = [path]
    else:
        shards = [Path(p) for p in glob.glob(str(input_path)) if Path(p).is_file()]
    if not shards:
        raise FileNotFoundError(f"no input files at {input_path}")
    return sorted(shards)


def output_names(shards: List[Path], output_format: str) -> List[str]:
    """Each input shard's output file name: its own, with the format's suffix."""
    names = []
    for shard in shards:
        name = shard.name[: -len(".gz")] if shard.name.endswith(".gz") else shard.name
        stem, suffix = os.path.splitext(name)
        names.append(f"{stem if suffix else name}.{output_format}")
    seen: Dict[str, Path] = {}
    for shard, name in zip(shards, names):
        if name in seen:
            raise ValueError(f"{seen[name]} and {shard} would both be written to {name}")
        seen[name] = shard
    return names


def read_shard(row: Dict) -> Iterator[Dict]:
    """The documents of one shard, as rows: shard index, line number and text,
    or the Problem that the line has instead; a shard that cannot be read on
    ends with a row holding its TagIOError in "read_error"."""
    problem_row = {"shard": row["shard"], "text": "", "fields": "", "read_error": False}
    line_number = 0
    try:
        for line_number, text in read_documents(row["path"], row["input_format"], row["max_length"]):
            if isinstance(text, Problem):
                yield {**problem_row, "line": line_number, "problem": text.problem}
            else:
                fields = fields_of(text)
                yield {
                    "shard": row["shard"], "line": line_number, "text": str(text), "problem": "", "read_error": False,
                    "fields": json.dumps(fields, ensure_ascii=False) if fields else "",
                }
    except TagIOError as err:
        yield {**problem_row, "line": line_number + 1, "problem": str(err), "read_error": True}


def tag_shards(
    model: PathLike,
    input_path: PathLike,
    output_dir: PathLike,
    *,
    input_format: Optional[str] = None,
    output_format: str = "jsonl",
    batch_size: int = 256,
    workers: Optional[int] = None,
    address: Optional[str] = None,
    on_error: str = "skip",
    progress: bool = True,
    warn: Optional[Callable[[str], None]] = None,
    resume: bool = False,
) -> Manifest:
    """Tag every document of the shards that `input_path` names (a file, a
    folder or a glob) on a Ray cluster, and write them to `output_dir`: one
    shard per input shard, as `tag` writes it, and `manifest.json`.

    model (str / Path): a pipeline directory that every node can read, or the
        name of a package installed on every node.
    input_format (str): "text" or "jsonl"; default: by each shard's suffix.
    output_format (str): "jsonl" or "conllu".
    batch_size (int): documents an actor tags at once.
    workers (int): actors, one CPU each (default: one per CPU of the cluster).
    address (str): the cluster to join (`ray start --head` prints it); default:
        the one this process is connected to, else a local one started and
        stopped here, with a CPU per worker.
    on_error (str): at a bad JSONL line, "skip" it (and count it) or "stop".
    progress (bool): show a progress bar with words/s on stderr.
    warn (Callable[[str], None]): where bad-line messages go (default: stderr).
    resume (bool): go on after a run that a signal ended (its manifest says
        so): keep its complete shards, resume the one it stopped in from its
        NAME.partial (checked as `tag --resume` checks one) and tag the rest;
        refused where the shards, their files or the model differ.
    RETURNS (Manifest): what was written, as in manifest.json; after SIGINT or
        SIGTERM, with `interrupted` set: the shard being written stays in its
        NAME.partial, later ones are not written.
    RAISES (BadLineError): with on_error="stop", at the first bad line (in input
        order), after writing every document before it and the manifest.
    RAISES (TagIOError): when a shard cannot be read on (a damaged .gz) or an
        output cannot be written; the shards before it are in place, what was
        tagged of it is in its NAME.partial, and no manifest is written.
    """
    for logger in ("ray", "ray.data"):  # no INFO lines around our progress bar
        logging.getLogger(logger).setLevel(logging.WARNING)
    # Without input_format, each shard's is the one its suffix names, always valid.
    check_options(batch_size, 1, input_format or INPUT_FORMATS[0], output_format, on_error)
    shards = input_shards(input_path)
    output_dir = Path(output_dir)
    targets = [output_dir / name for name in output_names(shards, output_format)]
    make_output_folder(output_dir)
    written = [file for target in [*targets, output_dir / MANIFEST] for file in run_files(target)]
    for shard, target in zip(shards, targets):
        check_paths(shard, target, resume=resume and os.path.lexists(f"{target}{PARTIAL}"))
        check_input_is_kept(shard, written)
    if not resume:
        for target in targets:
            check_no_leftovers(target)
    nlp = load_pipeline(model)  # a pipeline that does not load fails here, not in every actor
    meta = nlp.meta
    digest = model_digest(nlp)
    formats = [input_format or format_of(shard, INPUT_FORMATS, "text") for shard in shards]
    stats = [
        ShardStats(str(shard), target.name, origin=run_origin(shard, fmt, output_format, digest))
        for shard, target, fmt in zip(shards, targets, formats)
    ]
    if resume:
        stats = resumed_stats(output_dir, stats)
    readers = [
        partial_reader(shard, fmt, nlp.max_length) for shard, fmt in zip(shards, formats)
    ]
    rows = [
        {
            "shard": i,
            "path": str(shard.resolve()),
            "input_format": formats[i],
            "max_length": nlp.max_length,
        }
        for i, shard in enumerate(shards)
        if not stats[i].complete
    ]
    del nlp  # the actors load their own
    with ray_cluster(address, workers):
        workers = workers or int(ray.cluster_resources().get("CPU", 1))
        manifest = Manifest(
            model={"name": f"{meta['lang']}_{meta['name']}", "version": meta["version"], "path": str(model)},
            engine="ray",
            workers=workers,
            shards=stats,
        )
        # Reading is light: it takes no CPU of the actors' (all of them, by default).
        documents = ray.data.from_items(rows, override_num_blocks=max(1, len(rows))).flat_map(read_shard, num_cpus=0)
        documents.context.target_max_block_size = BLOCK_BYTES
        documents.context.execution_options.preserve_order = True  # each shard written as `tag` would
        documents.context.enable_progress_bars = False  # ours is below
        tagged = _map_tagger(documents, model, "text", output_format, workers, batch_size)
        start = time.perf_counter()
        with stop_on_signals() as signals:
            write_shards(
                tagged, targets, output_format, manifest, on_error, progress, warn or warn_above_progress,
                stop=signals.received, readers=readers, resume=resume,
            )
            manifest.interrupted = signals.received()
    manifest.seconds = round(time.perf_counter() - start, 3)
    manifest.write(output_dir)
    if manifest.stopped:
        lines = sum(shard.lines for shard in manifest.shards)
        raise BadLineError(f"{manifest.stopped} (stopped by --on-error stop after writing {lines:,} documents)")
    return manifest


@contextmanager
def ray_cluster(address: Optional[str], workers: Optional[int]) -> Iterator[None]:
    """Connected to Ray: as this process is already, else to the cluster at
    `address`, else to a local one (a CPU per worker), stopped at the end."""
    if ray.is_initialized():
        yield
        return
    num_cpus = None if address else (workers or os.cpu_count())
    ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def make_output_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise TagIOError(f"{folder}: is not a folder; with --engine ray, OUTPUT is one")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise TagIOError(f"{folder}: cannot be made ({err.strerror or err})") from None


TaggedRow = Tuple[int, int, str, bool, str, int]  # shard, line, problem, read_error, record, words


def write_shards(
    tagged: "ray.data.Dataset",
    targets: List[Path],
    output_format: str,
    manifest: Manifest,
    on_error: str,
    progress: bool,
    warn: Callable[[str], None],
    stop: Callable[[], Optional[str]] = lambda: None,
    readers: Optional[list] = None,
    resume: bool = False,
) -> None:
    """Write the records of the tagged rows, which come in input order, to
    their shards, and count them (and the bad lines) in the manifest. With
    on_error="stop", the shards after the bad line's are not written."""
    rows: Iterator[TaggedRow] = (
        row
        for batch in tagged.iter_batches(batch_size=None, batch_format="numpy")
        for row in zip(batch["shard"], batch["line"], batch["problem"], batch["read_error"], batch["record"], batch["words"])
    )
    with tqdm(unit=" words", unit_scale=True, file=sys.stderr, disable=not progress, mininterval=0.5) as bar:
        todo = [i for i, stats in enumerate(manifest.shards) if not stats.complete]
        for shard, shard_rows in rows_by_shard(rows, todo):
            stats = manifest.shards[shard]
            manifest.stopped = write_shard(
                shard_rows, targets[shard], output_format, stats, on_error, bar, warn, stop=stop,
                reader=readers[shard] if readers else None,
                resume=resume and os.path.lexists(f"{targets[shard]}{PARTIAL}"),
            )
            if manifest.stopped or stop():
                return


def rows_by_shard(rows: Iterator[TaggedRow], shards: Iterable[int]) -> Iterator[Tuple[int, Iterable[TaggedRow]]]:
    """Each shard's index and rows, in order (the rows come grouped by shard;
    a shard without any, no documents, gets none). Take each shard's rows
    before asking for the next shard: that moves on past them."""
    groups = itertools.groupby(rows, key=lambda row: int(row[0]))
    group = next(groups, None)
    for shard in shards:
        if group is not None and group[0] == shard:
            yield shard, group[1]
            group = next(groups, None)
        else:
            yield shard, ()


def write_shard(
    rows: Iterable[TaggedRow],
    target: Path,
    output_format: str,
    stats: ShardStats,
    on_error: str,
    bar: tqdm,
    warn: Callable[[str], None],
    stop: Callable[[], Optional[str]] = lambda: None,
    reader: Optional[Callable] = None,
    resume: bool = False,
) -> Optional[str]:
    """Write one shard's records as `tag` writes a file: through its BadLinePolicy
    (bad lines reported with the shard's name and line number, and skipped and
    counted, or stopping) into its AtomicOutput.
    RETURNS (str): with on_error="stop", the bad line that stopped it, else None.
    RAISES (TagIOError): if the shard could not be read on, or the output written;
        what was written is kept in NAME.partial."""
    policy = BadLinePolicy(on_error, lambda message: warn(f"{stats.input}: {message}"))
    if not resume:  # else the counts of the run that wrote the partial output go on
        stats.lines = stats.words = stats.failed_lines = 0
    with AtomicOutput(target, output_format, resume, stats.origin, reader) as output:
        if resume and output.resumed_docs != stats.lines:
            raise TagIOError(
                f"{output.partial}: holds {output.resumed_docs:,} documents, not the {stats.lines:,} "
                f"that {MANIFEST} counts; delete it to tag its shard again"
            )
        for (record, words), _ in policy.texts(tagged_documents(rows), after_line=output.resumed_after, stop=stop):
            output.file.write(record)
            stats.lines += 1
            stats.words += words
            bar.update(words)
        if policy.read_error or stop():
            output.keep_partial()
    stats.failed_lines += policy.skipped
    stats.complete = not (policy.read_error or stop())
    if policy.read_error:
        raise TagIOError(f"{policy.read_error}{output.kept}")
    return f"{stats.input}: {policy.stopped_by}" if policy.stopped_by else None


def partial_reader(shard: Path, input_format: str, max_length: int) -> Callable:
    """The shard's documents, which --resume checks a partial output against."""
    return lambda: read_documents(shard, input_format, max_length)


def resumed_stats(output_dir: Path, stats: List[ShardStats]) -> List[ShardStats]:
    """The shards' counts as the interrupted run's manifest left them, after
    checking that it was one, of the same shards, files and model.
    RAISES (TagIOError): naming what differs, and what to do."""
    path = output_dir / MANIFEST
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        shards = [ShardStats(**shard) for shard in earlier["shards"]]
        interrupted = earlier["interrupted"]
    except FileNotFoundError:
        raise TagIOError(f"{path}: no such file; nothing to resume") from None
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise TagIOError(f"{path}: not a manifest that --resume can go on from ({err})") from None
    if not interrupted:
        raise TagIOError(f"{path}: its run was not interrupted; nothing to resume")
    if [s.input for s in shards] != [s.input for s in stats]:
        raise TagIOError(f"{path}: its run tagged other input shards; resume with those, or start afresh")
    for old, new in zip(shards, stats):
        problem = origin_difference(old.origin or {}, new.origin)
        if problem:
            raise TagIOError(f"{old.input}: {problem}, since the interrupted run; start afresh in another folder")
        if old.complete and not (output_dir / old.output).is_file():
            raise TagIOError(f"{output_dir / old.output}: written by the interrupted run, and gone since")
    return shards


def tagged_documents(rows: Iterable[TaggedRow]) -> Iterator[Tuple[int, Union[Tuple[str, int], Problem]]]:
    """(line number, (record, words) or Problem) for each of a shard's rows, as
    BadLinePolicy takes them; the shard's read error is raised where it came."""
    for _, line, problem, read_error, record, words in rows:
        if read_error:
            raise TagIOError(problem)
        yield int(line), Problem(problem) if problem else (record, int(words))
