"""Train spaCy's own efficiency pipeline on a UD treebank: the baseline that
bin/benchmark.py compares lstm_tagger with.

    python bin/spacy_baseline.py TREEBANK_DIR OUTPUT [--max-steps N] [--components tagger,...]

TREEBANK_DIR holds LANG_NAME-ud-{train,dev,test}.conllu(.gz). The corpora are
converted by `spacy convert` (one sentence per Doc, syntactic words, with tags,
UPOS, FEATS and lemmas) into OUTPUT/corpus, the config comes from `spacy init
config -o efficiency` and is written to OUTPUT/config.cfg, and `spacy train`
runs with gold tokens (`gold_preproc = true`) on one thread into
OUTPUT/training/model-best.

The components are chosen from the data, the same way for every treebank:
`tagger` where the XPOS column has values, `morphologizer` (UPOS and FEATS)
always, `trainable_lemmatizer` where the LEMMA column has values; `--components`
names them instead (`--components tagger` for a tagger alone). Where spaCy's
language class needs a package that is not installed (Vietnamese without pyvi),
the config keeps the language and takes spaCy's rule-based tokenizer. The
tagger's `neg_prefix` is set to a prefix that no tag of the treebank starts
with (VTB has a tag "!"). The wall time of `spacy train` goes into the
pipeline's meta.json as `train_seconds`, which bin/benchmark.py reports.
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

TRAIN_FILE = re.compile(r"(?P<prefix>(?P<lang>[a-z]{2,3})_[A-Za-z0-9]+)-ud-train\.conllu(\.gz)?")


def split_file(folder: Path, prefix: str, split: str) -> Path:
    for suffix in (".conllu.gz", ".conllu"):
        path = folder / f"{prefix}-ud-{split}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"{folder} has no {prefix}-ud-{split}.conllu(.gz)")


def columns_used(path: Path) -> dict:
    """Whether any word of the file has an XPOS, FEATS or LEMMA value, and how
    often each XPOS tag occurs."""
    opener = gzip.open if path.name.endswith(".gz") else open
    used = {"xpos": False, "feats": False, "lemma": False}
    tags = Counter()
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 10 or not cols[0].isdigit():
                continue
            used["lemma"] |= cols[2] != "_"
            used["xpos"] |= cols[4] != "_"
            used["feats"] |= cols[5] != "_"
            tags[cols[4]] += 1
    used["tags"] = tags
    return used


# spaCy's components in pipeline order, each with the column it needs.
COMPONENTS = {"tagger": "xpos", "morphologizer": None, "trainable_lemmatizer": "lemma"}


def chosen_components(names: str, used: dict) -> list:
    """The components --components names, in pipeline order; exits where one
    is unknown or needs a column the treebank leaves empty."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in COMPONENTS]
    if unknown or not wanted:
        sys.exit(f"--components {names!r}: expected some of {', '.join(COMPONENTS)}")
    for name in wanted:
        column = COMPONENTS[name]
        if column and not used[column]:
            sys.exit(f"--components: {name} needs the treebank's {column.upper()} column, which is all '_'")
    return [name for name in COMPONENTS if name in wanted]


def run(*args: str) -> None:
    print("$", " ".join(args), flush=True)
    subprocess.run(args, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("treebank", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--max-steps", type=int, help="spaCy's [training] max_steps (default: its own)")
    parser.add_argument(
        "--components",
        help=f"comma-separated, of {', '.join(COMPONENTS)} (default: chosen from the columns the treebank fills)",
    )
    args = parser.parse_args()
    matches = [TRAIN_FILE.fullmatch(p.name) for p in args.treebank.iterdir()]
    found = sorted({(m["prefix"], m["lang"]) for m in matches if m})
    if len(found) != 1:
        sys.exit(f"{args.treebank}: expected one LANG_NAME-ud-train.conllu(.gz), found {found}")
    prefix, lang = found[0]
    used = columns_used(split_file(args.treebank, prefix, "train"))
    if args.components:
        pipes = chosen_components(args.components, used)
    else:  # each component whose column the treebank fills
        pipes = [name for name, column in COMPONENTS.items() if not column or used[column]]
    conllu_dir, corpus_dir = args.output / "conllu", args.output / "corpus"
    conllu_dir.mkdir(parents=True, exist_ok=True)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    for split in ("train", "dev", "test"):
        source = split_file(args.treebank, prefix, split)
        plain = conllu_dir / f"{split}.conllu"
        opener = gzip.open if source.name.endswith(".gz") else open
        with opener(source, "rb") as f:
            plain.write_bytes(f.read())
        run(python, "-m", "spacy", "convert", str(plain), str(corpus_dir), "--converter", "conllu", "-n", "1")

    import spacy  # after the conversions, which run in their own processes
    from spacy_lstm_tagger.training.ud import UNSEEN_DEV_TAGS, unseen_tag_share

    try:
        spacy.blank(lang)
        init_lang, tokenizer = lang, None
    except ImportError as err:
        print(f"spaCy's {lang!r} tokenizer is not usable ({str(err).splitlines()[0]}): rule-based tokenizer")
        init_lang, tokenizer = "xx", "spacy.Tokenizer.v1"
    config = args.output / "config.cfg"
    run(python, "-m", "spacy", "init", "config", "-l", init_lang, "-p", ",".join(pipes), "-o", "efficiency",
        "--force", str(config))
    overrides = [
        "--paths.train", str(corpus_dir / "train.spacy"), "--paths.dev", str(corpus_dir / "dev.spacy"),
        "--corpora.train.gold_preproc", "true", "--corpora.dev.gold_preproc", "true",
    ]
    if tokenizer:
        overrides += ["--nlp.lang", lang, "--nlp.tokenizer", json.dumps({"@tokenizers": tokenizer})]
    if "tagger" in pipes:
        prefix_ = "NEG:"
        while any(tag.startswith(prefix_) for tag in used["tags"]):
            prefix_ = "_" + prefix_
        overrides += ["--components.tagger.neg_prefix", prefix_]
        dev_tags = columns_used(split_file(args.treebank, prefix, "dev"))["tags"]
        del dev_tags["_"]  # words without an XPOS
        share = unseen_tag_share(used["tags"], dev_tags)
        if share > UNSEEN_DEV_TAGS:  # as train --ud does: dev tag accuracy says little
            print(f"{share:.0%} of the dev XPOS tags never occur in train: model-best is chosen without tag_acc")
            overrides += ["--training.score_weights.tag_acc", "0.0"]
    if args.max_steps:
        overrides += ["--training.max_steps", str(args.max_steps)]
    os.environ["OMP_NUM_THREADS"] = "1"
    start = time.perf_counter()
    run(python, "-m", "spacy", "train", str(config), "-o", str(args.output / "training"), *overrides)
    seconds = round(time.perf_counter() - start, 1)
    for model in ("model-best", "model-last"):
        meta_path = args.output / "training" / model / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["train_seconds"] = seconds
        meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"trained {'+'.join(pipes)} in {seconds:.0f} s: {args.output / 'training' / 'model-best'}")


if __name__ == "__main__":
    main()
