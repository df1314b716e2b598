"""`evaluation/morph_lemma.py`: the feature and lemma figures of `evaluate`,
on a few tokens whose counts are worked out by hand below (no pipeline)."""
import numpy
import pytest

from spacy_lstm_tagger.evaluation.morph_lemma import (
    N_ERRORS,
    lemma_figures,
    morph_figures,
    most_common,
    not_evaluated,
    prf,
    seen_split,
    share_right,
)

PAST_FIN, PRES_FIN = "Tense=Past|VerbForm=Fin", "Tense=Pres|VerbForm=Fin"
# word, gold FEATS, predicted FEATS, seen in training
TOKENS = [
    ("dogs", "Number=Plur", "Number=Plur", True),  # right
    ("ran", PAST_FIN, PRES_FIN, True),  # Tense wrong: a false positive and a false negative
    ("the", "_", "_", False),  # right; no features, so in no per-feature count
    ("it", "_", "Number=Sing", False),  # wrong, in no per-feature count either
    ("cats", "Number=Plur", "_", False),  # Number missed: a false negative
    ("x", "", "Number=Sing", True),  # no gold FEATS: left out of everything
    ("sat", "Tense=Past", "Mood=Ind|Tense=Past", True),  # Mood made up: a false positive
    ("walked", PAST_FIN, PRES_FIN, True),  # as "ran"
]


def columns(tokens):
    words, gold, guess, seen = zip(*tokens)
    return list(words), numpy.array(gold), numpy.array(guess), numpy.array(seen)


def test_morph_figures_match_a_count_by_hand():
    figures = morph_figures(*columns(TOKENS))
    # 7 tokens with gold FEATS, 2 right (dogs, the); seen: dogs ran sat walked (1 right),
    # unseen: the it cats (1 right).
    assert figures["tokens"] == 7 and type(figures["tokens"]) is int
    assert figures["accuracy"] == pytest.approx(2 / 7)
    assert figures["seen"] == {
        "seen": {"tokens": 4, "accuracy": 0.25},
        "unseen": {"tokens": 3, "accuracy": pytest.approx(1 / 3)},
    }
    # Per feature (tp, fp, fn over the tokens with one in gold or guess):
    # Number 1, 0, 1 of 2; Tense 1, 2, 2 of 3; VerbForm 2, 0, 0 of 2; Mood 0, 1, 0 of 1.
    # Micro: tp 4, fp 3, fn 3.
    assert figures["micro"] == {
        "precision": pytest.approx(4 / 7), "recall": pytest.approx(4 / 7), "f1": pytest.approx(4 / 7)
    }
    # Most errors first, then most support, then by name.
    assert figures["per_feature"] == [
        {"feature": "Tense", "accuracy": pytest.approx(1 / 3), "precision": pytest.approx(1 / 3),
         "recall": pytest.approx(1 / 3), "f1": pytest.approx(1 / 3), "support": 3, "errors": 2},
        {"feature": "Number", "accuracy": 0.5, "precision": 1.0, "recall": 0.5,
         "f1": pytest.approx(2 / 3), "support": 2, "errors": 1},
        {"feature": "Mood", "accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0,
         "support": 0, "errors": 1},
        {"feature": "VerbForm", "accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0,
         "support": 2, "errors": 0},
    ]
    # Whole FEATS errors, the most frequent first, ties in the order met; the first word seen.
    assert figures["errors"] == [
        {"gold": PAST_FIN, "predicted": PRES_FIN, "count": 2, "word": "ran"},
        {"gold": "_", "predicted": "Number=Sing", "count": 1, "word": "it"},
        {"gold": "Number=Plur", "predicted": "_", "count": 1, "word": "cats"},
        {"gold": "Tense=Past", "predicted": "Mood=Ind|Tense=Past", "count": 1, "word": "sat"},
    ]
    assert figures["value_errors"] == [
        {"feature": "Tense", "gold": "Past", "predicted": "Pres", "count": 2, "word": "ran"},
        {"feature": "Number", "gold": "Plur", "predicted": "_", "count": 1, "word": "cats"},
        {"feature": "Mood", "gold": "_", "predicted": "Ind", "count": 1, "word": "sat"},
    ]


def test_morph_figures_of_a_multiple_value_and_a_wrong_order():
    # "PronType=Int,Rel" is one value; a value error is one fp and one fn.
    tokens = [("who", "PronType=Int,Rel", "PronType=Int", True), ("what", "PronType=Int,Rel", "PronType=Int,Rel", False)]
    figures = morph_figures(*columns(tokens))
    assert figures["per_feature"] == [
        {"feature": "PronType", "accuracy": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "errors": 1}
    ]
    assert figures["value_errors"] == [
        {"feature": "PronType", "gold": "Int,Rel", "predicted": "Int", "count": 1, "word": "who"}
    ]


def test_every_feature_of_a_token_is_counted_after_a_right_one():
    tokens = [("is", "Mood=Ind|Number=Sing|Tense=Pres", "Mood=Ind|Number=Plur|Tense=Pres", True)]
    figures = morph_figures(*columns(tokens))
    # Mood right, Number wrong (fp and fn), Tense right: tp 2, fp 1, fn 1.
    assert figures["micro"] == {
        "precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3), "f1": pytest.approx(2 / 3)
    }
    assert [(r["feature"], r["support"], r["errors"]) for r in figures["per_feature"]] == [
        ("Number", 1, 1), ("Mood", 1, 0), ("Tense", 1, 0)
    ]
    assert figures["value_errors"] == [
        {"feature": "Number", "gold": "Sing", "predicted": "Plur", "count": 1, "word": "is"}
    ]


def test_morph_figures_without_any_gold():
    figures = morph_figures(*columns([("a", "", "_", True)]))
    assert figures["tokens"] == 0 and figures["accuracy"] is None
    assert figures["seen"] == {"seen": {"tokens": 0, "accuracy": None}, "unseen": {"tokens": 0, "accuracy": None}}
    assert figures["micro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert figures["per_feature"] == [] and figures["errors"] == [] and figures["value_errors"] == []


@pytest.mark.parametrize(
    "counts, expected",
    [
        ({"tp": 3, "fp": 1, "fn": 2}, (0.75, 0.6, 2 / 3)),
        ({"tp": 0, "fp": 0, "fn": 0}, (0.0, 0.0, 0.0)),
        ({"tp": 0, "fp": 2, "fn": 0}, (0.0, 0.0, 0.0)),
        ({"tp": 0, "fp": 0, "fn": 2}, (0.0, 0.0, 0.0)),
        ({"tp": 2, "fp": 0, "fn": 0}, (1.0, 1.0, 1.0)),
        ({"tp": 1, "fp": 3, "fn": 0}, (0.25, 1.0, 0.4)),
    ],
)
def test_prf_as_spacy_counts_it(counts, expected):
    result = prf(counts)
    assert list(result) == ["precision", "recall", "f1"]
    assert tuple(result.values()) == pytest.approx(expected)
    assert all(type(value) is float for value in result.values())


def test_share_right_and_the_seen_split():
    right = numpy.array([True, False, True, True, False])
    has_gold = numpy.array([True, True, True, False, True])
    seen = numpy.array([True, True, False, False, False])
    assert share_right(right) == {"tokens": 5, "accuracy": 0.6}
    assert share_right(right[:0]) == {"tokens": 0, "accuracy": None}
    assert type(share_right(right)["tokens"]) is int and type(share_right(right)["accuracy"]) is float
    assert seen_split(right, has_gold, seen) == {
        "seen": {"tokens": 2, "accuracy": 0.5}, "unseen": {"tokens": 2, "accuracy": 0.5}
    }
    assert list(seen_split(right, has_gold, seen)) == ["seen", "unseen"]


def test_lemma_figures_match_a_count_by_hand():
    tokens = [
        ("dogs", "dog", "dog", True),
        ("ran", "run", "ran", True),
        ("x", "", "x", False),  # no gold lemma
        ("ran", "run", "ran", False),
        ("geese", "goose", "geese", False),
    ]
    figures = lemma_figures(*columns(tokens))
    assert figures == {
        "tokens": 4,
        "accuracy": 0.25,
        "seen": {"seen": {"tokens": 2, "accuracy": 0.5}, "unseen": {"tokens": 2, "accuracy": 0.0}},
        "errors": [
            {"word": "ran", "gold": "run", "predicted": "ran", "count": 2},
            {"word": "geese", "gold": "goose", "predicted": "geese", "count": 1},
        ],
    }
    assert type(figures["tokens"]) is int


def test_errors_are_the_25_most_frequent_ties_in_the_order_met():
    assert N_ERRORS == 25
    tokens = [(f"w{i}", "Case=Nom", f"Case=X{i}", True) for i in range(30)] + [("w29", "Case=Nom", "Case=X29", True)]
    errors = morph_figures(*columns(tokens))["errors"]
    assert [e["predicted"] for e in errors] == ["Case=X29"] + [f"Case=X{i}" for i in range(24)]
    words = [f"w{i}" for i in range(30)]
    lemmas = lemma_figures(words, numpy.array(words), numpy.array([w + "s" for w in words]), numpy.ones(30, bool))
    assert [e["word"] for e in lemmas["errors"]] == words[:25]
    from collections import Counter

    assert most_common(Counter("abcabd"), 2) == [("a", 2), ("b", 2)]


@pytest.mark.parametrize(
    "kind, gold, guess, written, reason",
    [
        ("morph", ["_", ""], ["", ""], True, "the gold corpus has no FEATS"),
        ("morph", ["Case=Nom", ""], ["", ""], False, "the pipeline writes no token.morph"),
        ("morph", ["Case=Nom", ""], ["", ""], True, None),
        ("morph", ["Case=Nom", ""], ["_", ""], False, None),  # another component writes it
        ("lemma", ["", ""], ["a", "b"], True, "the gold corpus has no lemmas"),
        ("lemma", ["a", ""], ["", ""], False, "the pipeline writes no token.lemma_"),
        ("lemma", ["a", ""], ["", ""], True, None),
        ("lemma", ["_", ""], ["", "b"], False, None),  # "_" is a lemma: the underscore's
    ],
)
def test_not_evaluated_says_why(kind, gold, guess, written, reason):
    assert not_evaluated(numpy.array(gold), numpy.array(guess), written, kind) == reason
