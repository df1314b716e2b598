"""Command line: python -m spacy_lstm_tagger {train,convert,tag,evaluate} ..."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

import spacy

from .conllu import ewt_dir, ewt_file
from .corpus import TOY_CORPUS, read_docs, write_docbin
from .report import add_evaluate_command, run_evaluate_command
from .tag import add_tag_command, run_tag_command
from .train import CONFIG_DIR, default_path, show_tags, train


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
        "--output", type=Path, help="output directory (default training/toy or training/ewt)"
    )
    p_train.add_argument("--epochs", type=int, help="number of epochs (default: the config's max_epochs)")
    p_train.add_argument("--seed", type=int, help="random seed (default: the config's)")
    p_train.add_argument("--resume", action="store_true", help="continue from OUTPUT/model-last")
    p_train.add_argument(
        "--max-minutes", type=float, help="stop after the epoch that reaches this wall time"
    )
    p_train.add_argument(
        "--ewt",
        nargs="?",
        const="",
        metavar="DIR",
        help="train on UD English EWT's train/dev CoNLL-U files in DIR (default: "
        "$UD_EWT_DIR) with configs/ewt.cfg",
    )
    p_train.add_argument(
        "--show", default="The dog ate the apple", help="sentence to tag at the end (space-separated tokens)"
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
        if args.ewt is not None:
            data_dir = ewt_dir(args.ewt or None)
            config = args.config or default_path(CONFIG_DIR / "ewt.cfg", "configs/ewt.cfg")
            train_path = args.train or ewt_file("train", data_dir)
            dev_path = args.dev or ewt_file("dev", data_dir)
        else:
            config = args.config or default_path(CONFIG_DIR / "toy.cfg", "configs/toy.cfg")
            train_path = args.train or default_path(TOY_CORPUS, "the toy corpus")
            dev_path = args.dev
        output = args.output or Path("training/ewt" if args.ewt is not None else "training/toy")
        best = train(
            config,
            output,
            train_path,
            dev_path,
            epochs=args.epochs,
            seed=args.seed,
            resume=args.resume,
            max_minutes=args.max_minutes,
        )
        if args.show:
            show_tags(spacy.load(best), args.show.split())
    elif args.command == "convert":
        nlp = spacy.blank("en")
        n = write_docbin(read_docs(args.input, nlp.vocab), args.output)
        print(f"wrote {n} docs to {args.output}")
    elif args.command == "tag":
        run_tag_command(args)
    elif args.command == "evaluate":
        run_evaluate_command(args)


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ImportError, ValueError) as err:
        sys.exit(f"error: {err}")
