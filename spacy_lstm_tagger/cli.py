"""The command line: python -m spacy_lstm_tagger {train,convert,tag,evaluate} ...

The one module that parses arguments, prints what the user reads and exits with
a status; everything it calls raises errors instead. `run` raises them (for
scripts and tests), `main` turns them into one `error:` line and status 1.
"""
import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

from spacy.vocab import Vocab

from .configs import config_path
from .corpus import toy_corpus
from .data.conllu import read_conllu
from .data.corpus import read_docs, write_docbin
from .data.pipelines import load_pipeline
from .data.treebank import Treebank, ewt_dir, find_treebank
from .tagging.errors import TagIOError
from .tagging.local import INPUT_FORMATS, ON_ERROR, TagStats, tag_with_pipeline
from .tagging.output import partial_of
from .tagging.reading import STDIO
from .tagging.signals import SIGNAL_EXIT
from .tagging.writing import OUTPUT_FORMATS

TAG_ENGINES = ("local", "ray")
TOY_TEXT = "The dog ate the apple"


def main(argv: Optional[List[str]] = None) -> None:
    """Run a command and exit: 0, a signal's status, or 1 with one `error:`
    line for a problem the command names (a bad file, option or model)."""
    try:
        status = run(argv)
    except (OSError, ImportError, ValueError) as err:  # OSError: missing or unreadable files
        sys.exit(f"error: {err}")
    sys.exit(status)


def run(argv: Optional[List[str]] = None) -> int:
    """Parse `argv` and run the command. RETURNS (int): the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        return train_command(parser, args)
    if args.command == "convert":
        n = write_docbin(read_docs(args.input, Vocab()), args.output)
        print(f"wrote {n} docs to {args.output}")
        return 0
    if args.command == "tag":
        return tag_command(args)
    from .evaluation.report import run_evaluation

    run_evaluation(
        args.model, args.gold, compare=args.compare, report_path=args.report,
        json_path=args.json, training_dir=args.training,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spacy_lstm_tagger")
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_command(commands)
    convert = commands.add_parser("convert", help="convert a .json or .conllu(.gz) corpus into a .spacy DocBin")
    convert.add_argument("input", type=Path)
    convert.add_argument("output", type=Path)
    add_tag_command(commands)
    add_evaluate_command(commands)
    return parser


# train


def add_train_command(commands) -> None:
    p = commands.add_parser(
        "train",
        help="train a pipeline (default: the toy corpus)",
        description="Train an lstm_tagger pipeline and save model-best and model-last. "
        "With no arguments: the tutorial's toy corpus and configs/toy.cfg.",
    )
    p.add_argument("--config", type=Path, help="spaCy config (default configs/toy.cfg)")
    p.add_argument("--train", type=Path, help="training corpus: .json, .conllu(.gz) or .spacy")
    p.add_argument("--dev", type=Path, help="dev corpus (default: the training corpus)")
    p.add_argument("--output", type=Path, help="output directory (default training/toy, training/ewt or training/PREFIX)")
    p.add_argument("--epochs", type=int, help="number of epochs (default: the config's max_epochs)")
    p.add_argument("--seed", type=int, help="random seed (default: the config's)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/model-last")
    p.add_argument("--max-minutes", type=float, help="stop after the epoch that reaches this wall time")
    p.add_argument(
        "--teachers", type=int, metavar="N",
        help="first train N taggers and distill their ensemble into the final one "
        "(default: the config's [distillation] teachers, else 0)",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--ud", type=Path, metavar="DIR",
        help="train on the UD treebank in DIR (its LANG_NAME-ud-{train,dev}.conllu[.gz]) "
        "with configs/ud.cfg and the settings its data asks for; writes OUTPUT/config.cfg",
    )
    source.add_argument(
        "--ewt", nargs="?", const="", metavar="DIR",
        help="--ud for UD English EWT in DIR (default: $UD_EWT_DIR), with configs/ewt.cfg",
    )
    p.add_argument(
        "--show",
        help=f"text to tag at the end (default: '{TOY_TEXT}', or with --ud the first dev sentence)",
    )


def train_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .training.loop import show_tags
    from .training.options import TrainingOptions
    from .training.runs import train_files, train_ud

    if args.teachers is not None and args.teachers < 0:
        parser.error("--teachers must be 0 or more")
    options = TrainingOptions(
        epochs=args.epochs, seed=args.seed, resume=args.resume, max_minutes=args.max_minutes,
        teachers=args.teachers,
    )
    ud_dir = ewt_dir(args.ewt or None) if args.ewt is not None else args.ud
    if ud_dir is not None:
        if args.train or args.dev:
            parser.error("--train and --dev do not go with --ud or --ewt")
        treebank = find_treebank(ud_dir)
        default_output = "training/ewt" if args.ewt is not None else f"training/{treebank.prefix}"
        # EWT keeps its own tuned config; other treebanks get configs/ud.cfg.
        config = args.config or (config_path("ewt.cfg") if args.ewt is not None else None)
        best = train_ud(ud_dir, args.output or Path(default_output), options, config=config)
        show = _first_sentence(treebank) if args.show is None else args.show
    else:
        config = args.config or config_path("toy.cfg")
        output = args.output or Path("training/toy")
        best = train_files(config, output, args.train or toy_corpus(), args.dev, options)
        show = TOY_TEXT if args.show is None else args.show
    if show:
        show_tags(load_pipeline(str(best)), show)
    return 0


def _first_sentence(treebank: Treebank) -> str:
    """The text of the treebank's first dev (else train) sentence."""
    path = treebank.split("dev") or treebank.require("train")
    doc = next(read_conllu(path, Vocab()), None)
    return "" if doc is None else doc.text


# tag


def add_tag_command(commands) -> None:
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
    p.add_argument("--on-error", choices=ON_ERROR, default="skip", help="at a bad line: skip it and go on (default), or stop")
    p.add_argument(
        "--resume", action="store_true",
        help="continue an interrupted run: keep OUTPUT.partial's documents and tag the lines after them "
        "(with --engine ray: keep the complete shards too)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument(
        "--engine", choices=TAG_ENGINES, default="local",
        help="local: nlp.pipe in this process (default); ray: on a Ray cluster, INPUT a file, "
        "folder or glob of shards, OUTPUT a folder of shards and manifest.json",
    )
    p.add_argument("--address", help="with --engine ray: the cluster to join (default: start one here)")
    p.add_argument("--workers", type=int, help="with --engine ray: tagging actors (default: one per CPU)")


def tag_command(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        return ray_tag_command(args)
    if args.address or args.workers:
        raise ValueError("--address and --workers need --engine ray")
    try:
        stats = tag_with_pipeline(
            args.model, args.input, args.output,
            input_format=args.input_format, output_format=args.output_format,
            batch_size=args.batch_size, n_process=args.n_process, on_error=args.on_error,
            resume=args.resume, progress=not args.quiet,
        )
    except KeyboardInterrupt:  # before tagging began, or a second Ctrl-C
        partial = partial_of(args.output)
        kept = f"; what was tagged is in {partial}" if partial and os.path.exists(partial) else ""
        print(f"interrupted{kept}", file=sys.stderr)
        return SIGNAL_EXIT["SIGINT"]
    except TagIOError:
        if args.output == STDIO:
            # Python would report the broken pipe again when flushing at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise
    if not args.quiet:
        print(stats.summary(), file=sys.stderr)
    if stats.interrupted:
        partial = partial_of(args.output)
        where = "" if partial is None else (
            f": {stats.resumed_docs + stats.docs:,} documents are in {partial}; "
            "run again with --resume to continue"
        )
        print(f"interrupted by {stats.interrupted} after input line {stats.last_line:,}{where}", file=sys.stderr)
        return SIGNAL_EXIT[stats.interrupted]
    return 0


def ray_tag_command(args: argparse.Namespace) -> int:
    """`tag --engine ray`: on the cluster at `--address`, or on a local one."""
    if args.output == STDIO:
        raise ValueError("with --engine ray, OUTPUT is a folder, not -")
    if args.n_process != 1:
        raise ValueError("with --engine ray, --workers sets the number of workers, not --n-process")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, not {args.workers}")
    from .tagging.ray_engine import MANIFEST, tag_shards  # Ray is an optional extra

    try:
        manifest = tag_shards(
            args.model, args.input, args.output,
            input_format=args.input_format, output_format=args.output_format or "jsonl",
            batch_size=args.batch_size or 256, workers=args.workers, address=args.address,
            on_error=args.on_error, progress=not args.quiet, resume=args.resume,
        )
    except KeyboardInterrupt:  # before tagging began, or a second Ctrl-C
        print(f"interrupted; with a manifest in {args.output}, --resume goes on", file=sys.stderr)
        return SIGNAL_EXIT["SIGINT"]
    if manifest.interrupted:
        done = [s for s in manifest.shards if s.complete]
        where = next((s for s in manifest.shards if not s.complete), None)
        at = f"in {where.input} after {where.lines:,} documents" if where else "at the end"
        print(
            f"interrupted by {manifest.interrupted} {at}: {len(done)} of {len(manifest.shards)} shards "
            f"are complete in {args.output}; run again with --resume to continue",
            file=sys.stderr,
        )
        return SIGNAL_EXIT[manifest.interrupted]
    if not args.quiet:
        stats = TagStats(
            docs=manifest.lines, words=manifest.words, skipped=manifest.failed_lines, seconds=manifest.seconds
        )
        print(f"{stats.summary()}; {len(manifest.shards)} shards and {MANIFEST} in {args.output}", file=sys.stderr)
    return 0


# evaluate


def add_evaluate_command(commands) -> None:
    p = commands.add_parser(
        "evaluate",
        help="evaluate a pipeline on a gold corpus: text summary, HTML report, JSON",
        description="Evaluate an lstm_tagger pipeline on gold tags: accuracy overall, on words "
        "seen and unseen in training and by frequency, per tag, confusions, the "
        "calibration of token._.tag_prob and the most frequent errors; features and lemmas "
        "too, where the pipeline writes them and the gold corpus has them.",
    )
    p.add_argument("model", help="the lstm_tagger pipeline: a directory or an installed package")
    p.add_argument("gold", type=Path, help="gold corpus: .conllu(.gz), .spacy or .json")
    p.add_argument("--compare", metavar="OTHER", help="a second pipeline that sets tag_/pos_, side by side")
    p.add_argument("--report", type=Path, metavar="OUT.html", help="write the HTML report")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write the figures as JSON")
    p.add_argument(
        "--training", type=Path, metavar="DIR",
        help="the model's training folder (train --output): adds its training curves, and "
        "counts word frequency in its corpus/train.spacy",
    )
