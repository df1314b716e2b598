"""Data and helpers shared by the test modules (fixtures live in conftest.py)."""
from pathlib import Path

from spacy.tokens import Doc
from spacy.training import Example

ROOT = Path(__file__).resolve().parent.parent

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
