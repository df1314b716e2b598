"""Command line: python -m spacy_lstm_tagger {train,convert,tag,evaluate} ..."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

import spacy
from spacy.vocab import Vocab

from .conllu import ewt_dir, read_conllu
from .corpus import TOY_CORPUS, read_docs, write_docbin
from .report import add_evaluate_command, run_evaluate_command
from .tag import add_tag_command, run_tag_command
from .distill import train_distilled
from .train import CONFIG_DIR, default_path, show_tags
from .ud import find_treebank, train_ud


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m spacy_lstm_tagger")
    commands = parser.add_subparsers(dest="command", required=True)

    p_train = commands.add_parser(
        "train",
        help="train a pipeline (default: the toy corpus)",
        description="Train an lstm_tagger pipeline and save model-best and model-last. "
        "With no arguments: the tutorial's toy corpus and configs/toy.cfg.",
    )
    p_train.add_argument("--config", type=Path, help="spaCy config (default configs/toy.cfg)")
    p_train.add_argument("--train", type=Path, help="training corpus: .json, .conllu(.gz) or .spacy")
    p_train.add_argument("--dev", type=Path, help="dev corpus (default: the training corpus)")
    p_train.add_argument(
        "--output", type=Path, help="output directory (default training/toy, training/ewt or training/PREFIX)"
    )
    p_train.add_argument("--epochs", type=int, help="number of epochs (default: the config's max_epochs)")
    p_train.add_argument("--seed", type=int, help="random seed (default: the config's)")
    p_train.add_argument("--resume", action="store_true", help="continue from OUTPUT/model-last")
    p_train.add_argument(
        "--max-minutes", type=float, help="stop after the epoch that reaches this wall time"
    )
    p_train.add_argument(
        "--teachers",
        type=int,
        metavar="N",
        help="first train N taggers and distill their ensemble into the final one "
        "(default: the config's [distillation] teachers, else 0)",
    )
    treebank_source = p_train.add_mutually_exclusive_group()
    treebank_source.add_argument(
        "--ud",
        type=Path,
        metavar="DIR",
        help="train on the UD treebank in DIR (its LANG_NAME-ud-{train,dev}.conllu[.gz]) "
        "with configs/ud.cfg and the settings its data asks for; writes OUTPUT/config.cfg",
    )
    treebank_source.add_argument(
        "--ewt",
        nargs="?",
        const="",
        metavar="DIR",
        help="--ud for UD English EWT in DIR (default: $UD_EWT_DIR), with configs/ewt.cfg",
    )
    p_train.add_argument(
        "--show",
        help="text to tag at the end (default: 'The dog ate the apple', or with --ud "
        "the first dev sentence)",
    )

    p_convert = commands.add_parser(
        "convert", help="convert a .json or .conllu(.gz) corpus into a .spacy DocBin"
    )
    p_convert.add_argument("input", type=Path)
    p_convert.add_argument("output", type=Path)

    add_tag_command(commands)
    add_evaluate_command(commands)

    args = parser.parse_args(argv)
    if args.command == "train":
        ud_dir = ewt_dir(args.ewt or None) if args.ewt is not None else args.ud
        options = dict(
            epochs=args.epochs, seed=args.seed, resume=args.resume, max_minutes=args.max_minutes
        )
        if args.teachers is not None and args.teachers < 0:
            parser.error("--teachers must be 0 or more")
        if ud_dir is not None:
            if args.train or args.dev:
                parser.error("--train and --dev do not go with --ud or --ewt")
            treebank = find_treebank(ud_dir)
            default_output = "training/ewt" if args.ewt is not None else f"training/{treebank.prefix}"
            # EWT keeps its own tuned config; other treebanks get configs/ud.cfg.
            config = args.config or (CONFIG_DIR / "ewt.cfg" if args.ewt is not None else None)
            best = train_ud(
                ud_dir, args.output or Path(default_output), config=config,
                teachers=args.teachers, **options,
            )
            show = _first_sentence(treebank) if args.show is None else args.show
        else:
            config = args.config or default_path(CONFIG_DIR / "toy.cfg", "configs/toy.cfg")
            train_path = args.train or default_path(TOY_CORPUS, "the toy corpus")
            output = args.output or Path("training/toy")
            best = train_distilled(
                config, output, train_path, args.dev, teachers=args.teachers, **options
            )
            show = "The dog ate the apple" if args.show is None else args.show
        if show:
            show_tags(spacy.load(best), show)
    elif args.command == "convert":
        nlp = spacy.blank("en")
        n = write_docbin(read_docs(args.input, nlp.vocab), args.output)
        print(f"wrote {n} docs to {args.output}")
    elif args.command == "tag":
        run_tag_command(args)
    elif args.command == "evaluate":
        run_evaluate_command(args)


def _first_sentence(treebank) -> str:
    """The text of the treebank's first dev (else train) sentence."""
    path = treebank.split("dev") or treebank.require("train")
    doc = next(read_conllu(path, Vocab()), None)
    return "" if doc is None else doc.text


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ImportError, ValueError) as err:
        sys.exit(f"error: {err}")
