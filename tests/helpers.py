"""Data and helpers shared by the test modules (fixtures live in conftest.py)."""
import gzip
import shutil
from pathlib import Path

from spacy.tokens import Doc
from spacy.training import Example

ROOT = Path(__file__).resolve().parent.parent

# What a wheel of the project is built from; a file missing here is missing
# from the installed package too, which is what these tests should catch.
# configs/ and corpus/ are installed as the package's spacy_lstm_tagger.configs and .corpus.
PROJECT_FILES = ["pyproject.toml", "setup.cfg", "README.md", "spacy_lstm_tagger", "configs", "corpus"]

# A trained toy pipeline for the tests that load, package or run one. The
# tutorial's two sentences, as in test_tagger.py, with a small model trained
# fast (no dropout, a high learning rate) until it tags them exactly.
TOY_DATA = [
    ("The dog ate the apple".split(), "DET NN V DET NN".split()),
    ("Everybody read that book".split(), "NN V DET NN".split()),
]
TOY_TEXTS = [" ".join(words) for words, _ in TOY_DATA]
TOY_TAGS = [tags for _, tags in TOY_DATA]
TOY_LABELS = ("DET", "NN", "V")
SMALL_MODEL = {
    "word_width": 32,
    "char_width": 16,
    "char_features": 16,
    "hidden_width": 32,
    "dropout": 0.0,
    "word_dropout": 0.0,
}


def toy_examples(nlp):
    return [
        Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=tags))
        for words, tags in TOY_DATA
    ]


def tags_of(docs):
    return [[token.tag_ for token in doc] for doc in docs]


def slice_treebank(source, folder, n_train, n_dev):
    """Write the first sentences of a treebank's train and dev splits as plain
    CoNLL-U files with its prefix into `folder`; RETURNS the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("dev", n_dev)):
        opener = gzip.open if source.require(split).suffix == ".gz" else open
        with opener(source.require(split), "rt", encoding="utf8") as f:
            sentences = f.read().strip().split("\n\n")[:n]
        (folder / f"{source.prefix}-ud-{split}.conllu").write_text(
            "\n\n".join(sentences) + "\n\n", encoding="utf8"
        )
    return folder


def copy_project(source):
    """A copy of the files a wheel of the project is built from, in `source`."""
    source.mkdir()
    for name in PROJECT_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy(ROOT / name, source / name)
    return source
