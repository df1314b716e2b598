"""Tag corpora bigger than one machine on Ray Data: `tag MODEL INPUT OUTPUT --engine ray`.

Ray tasks read the input shards with `tag`'s own reader (line numbers and bad
lines as there); a pool of actors, each holding the pipeline loaded once from its
path or installed package (never sent through the object store), tags them; the
results come back to this process in input order, which writes one output shard
per input shard with `tag`'s own writers, so that each is the file `tag` writes
for that shard. Ray restarts a worker that dies and redoes its blocks, and this
process receives every block once: each line is written once.
"""
import glob
import io
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Callable, Dict, Iterator, List, Optional, Union

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

from .confidence import TAG_PROB
from .tag import (
    INPUT_FORMATS,
    ON_ERROR,
    OUTPUT_FORMATS,
    BadLineError,
    Problem,
    TagStats,
    _warn,
    format_of,
    open_text,
    read_texts,
    write_conllu,
    write_jsonl,
)

PathLike = Union[str, Path]
MANIFEST = "manifest.json"
# Input per block, the unit of work that Ray schedules and redoes after a worker
# dies: small enough to spread a shard over workers, large enough to be cheap.
BLOCK_BYTES = 1 << 20
PARTIAL = ".partial"  # an output shard being written; renamed when complete


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
        "probs" (each tag's probability).
    """
    return _map_tagger(dataset, model, text_column, None, workers, batch_size)


class TagBatch:
    """A Ray Data actor that loads the pipeline once and tags batches of rows.

    With an output format it writes each row's record in that format (as `tag`
    does) into a "record" column, passing over rows with a "problem", and counts
    the "words"; without one it adds the token columns of `tag_dataset`.
    """

    def __init__(self, model: str, text_column: str, output_format: Optional[str]):
        torch.set_num_threads(1)  # one actor a CPU: more threads would fight over it
        self.nlp = spacy.load(model)
        self.text_column = text_column
        self.write = {"jsonl": write_jsonl, "conllu": write_conllu, None: None}[output_format]

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
                batch.update(token_columns(self.nlp.pipe(texts)))
            else:
                batch.update(self.records(texts, batch["line"], batch["problem"]))
        return batch

    def records(self, texts, lines, problems) -> Dict[str, numpy.ndarray]:
        records = numpy.full(len(texts), "", dtype=object)
        words = numpy.zeros(len(texts), dtype=numpy.int64)
        rows = [i for i, problem in enumerate(problems) if not problem]
        for i, doc in zip(rows, self.nlp.pipe(texts[i] for i in rows)):
            out = io.StringIO()
            self.write(out, doc, int(lines[i]))
            records[i] = out.getvalue()
            words[i] = len(doc)
        return {"record": records, "words": words}


def token_columns(docs: Iterator) -> Dict[str, numpy.ndarray]:
    columns: Dict[str, list] = {"tokens": [], "tags": [], "pos": [], "probs": []}
    for doc in docs:
        columns["tokens"].append([token.text for token in doc])
        columns["tags"].append([token.tag_ for token in doc])
        columns["pos"].append([token.pos_ for token in doc])
        columns["probs"].append([token._.get(TAG_PROB) for token in doc])
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

    def write(self, folder: Path) -> None:
        for total in ("lines", "words", "failed_lines"):
            setattr(self, total, sum(getattr(shard, total) for shard in self.shards))
        text = json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"
        partial = folder / (MANIFEST + PARTIAL)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, folder / MANIFEST)


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
    or the problem that the line has instead."""
    with open_text(row["path"], "r") as lines:
        for line, text in read_texts(lines, row["input_format"]):
            problem = text.problem if isinstance(text, Problem) else ""
            yield {"shard": row["shard"], "line": line, "text": "" if problem else text, "problem": problem}


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
    RETURNS (Manifest): what was written, as in manifest.json.
    RAISES (BadLineError): with on_error="stop", at the first bad line (in input
        order), after writing every document before it and the manifest.
    """
    checks = [(output_format, OUTPUT_FORMATS), (on_error, ON_ERROR)]
    if input_format is not None:
        checks.append((input_format, INPUT_FORMATS))
    for value, choices in checks:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
    warn = warn or _warn
    shards = input_shards(input_path)
    output_dir = Path(output_dir)
    names = output_names(shards, output_format)
    targets = [output_dir / name for name in names]
    for shard, target in zip(shards, targets):
        if target.resolve() == shard.resolve():
            raise ValueError(f"the output {target} is an input shard")
    try:  # a pipeline that does not load fails here, not in every actor
        meta = spacy.load(model).meta
    except OSError as err:  # spaCy's "can't find model"
        raise FileNotFoundError(f"cannot load the pipeline {str(model)!r}: {err}") from None
    rows = [
        {"shard": i, "path": str(shard.resolve()), "input_format": input_format or format_of(shard, INPUT_FORMATS, "text")}
        for i, shard in enumerate(shards)
    ]
    with ray_cluster(address, workers):
        workers = workers or int(ray.cluster_resources().get("CPU", 1))
        manifest = Manifest(
            model={"name": f"{meta['lang']}_{meta['name']}", "version": meta["version"], "path": str(model)},
            engine="ray",
            workers=workers,
            shards=[ShardStats(str(shard), target.name) for shard, target in zip(shards, targets)],
        )
        # Reading is light: it takes no CPU of the actors' (all of them, by default).
        documents = ray.data.from_items(rows, override_num_blocks=len(rows)).flat_map(read_shard, num_cpus=0)
        documents.context.target_max_block_size = BLOCK_BYTES
        documents.context.execution_options.preserve_order = True  # each shard written as `tag` would
        documents.context.enable_progress_bars = False  # ours is below
        tagged = _map_tagger(documents, model, "text", output_format, workers, batch_size)
        output_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        write_shards(tagged, targets, manifest, on_error, progress, warn)
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


def write_shards(tagged, targets: List[Path], manifest: Manifest, on_error: str, progress: bool, warn) -> None:
    """Write the records of the tagged rows, which come in input order, to
    their shards, and count them (and the bad lines) in the manifest."""
    writer = ShardWriter(targets)
    with tqdm(unit=" words", unit_scale=True, file=sys.stderr, disable=not progress, mininterval=0.5) as bar:
        for batch in tagged.iter_batches(batch_size=None, batch_format="numpy"):
            for shard, line, problem, record, words in zip(
                batch["shard"], batch["line"], batch["problem"], batch["record"], batch["words"]
            ):
                stats = manifest.shards[shard]
                if not problem:
                    writer.write(shard, record)
                    stats.lines += 1
                    stats.words += int(words)
                    bar.update(int(words))
                    continue
                message = f"{stats.input}: line {line}: {problem}"
                if on_error == "stop":
                    manifest.stopped = message
                    writer.complete(shard + 1)  # the documents before the bad line
                    return
                stats.failed_lines += 1
                warn(f"{message} (skipped)")
    writer.complete(len(targets))


class ShardWriter:
    """Writes the output shards in order, each to a partial file renamed into
    place when complete, so that no truncated shard is ever where a complete
    one is expected (a failed run leaves the partial file)."""

    def __init__(self, targets: List[Path]):
        self.targets = targets
        self.completed = 0  # shards before this one are in place
        self.file: Optional[IO[str]] = None  # the partial file of shard `completed`

    def write(self, shard: int, record: str) -> None:
        if shard != self.completed or self.file is None:
            self.complete(shard)
            self.file = self._partial(shard).open("w", encoding="utf-8")
        self.file.write(record)

    def complete(self, until: int) -> None:
        """Put every shard before `until` in place: the one being written and
        the empty ones (no documents) after it."""
        for shard in range(self.completed, until):
            partial = self._partial(shard)
            if shard == self.completed and self.file is not None:
                self.file.close()
                self.file = None
            else:
                partial.write_text("", encoding="utf-8")
            os.replace(partial, self.targets[shard])
        self.completed = max(self.completed, until)

    def _partial(self, shard: int) -> Path:
        return self.targets[shard].with_name(self.targets[shard].name + PARTIAL)


def run_ray_tag_command(args) -> None:
    """`tag --engine ray`: on the cluster at `--address`, or on a local one."""
    if args.output == "-":
        raise ValueError("with --engine ray, OUTPUT is a folder, not -")
    if args.n_process != 1:
        raise ValueError("with --engine ray, --workers sets the number of workers, not --n-process")
    for option, value in (("--workers", args.workers), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            raise ValueError(f"{option} must be at least 1, not {value}")
    for logger in ("ray", "ray.data"):  # no INFO lines around our progress bar
        logging.getLogger(logger).setLevel(logging.WARNING)
    manifest = tag_shards(
        args.model,
        args.input,
        args.output,
        input_format=args.input_format,
        output_format=args.output_format or "jsonl",
        batch_size=args.batch_size or 256,
        workers=args.workers,
        address=args.address,
        on_error=args.on_error,
        progress=not args.quiet,
    )
    if not args.quiet:
        stats = TagStats(manifest.lines, manifest.words, manifest.failed_lines, manifest.seconds)
        print(f"{stats.summary()}; {len(manifest.shards)} shards and {MANIFEST} in {args.output}", file=sys.stderr)
