"""evaluate's figures on small hand-made predictions, every expected value
worked out by hand in the comments (no trained pipeline: the predictions are
set directly, or by a scripted component after an untrained lstm_tagger)."""
from collections import Counter

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab

from spacy_lstm_tagger.evaluation.evaluate import (
    KEPT_SHARES,
    Predictions,
    accuracies,
    calibration,
    compare,
    confusion,
    context,
    evaluate,
    feats_of,
    frequency_bands,
    frequent_errors,
    morph_and_lemma,
    per_tag,
    predict,
    unknown_tag_warnings,
    word_counts,
)
from spacy_lstm_tagger.pipeline.component import find_lstm_tagger

from helpers import SMALL_MODEL


def strings(*values):
    return numpy.array(values, dtype=object)


def predictions(words, gold_tag, tag, sentence=None, gold_pos=None, pos=None, prob=None,
                gold_morph=None, morph=None, gold_lemma=None, lemma=None):
    n = len(words)
    blank = [""] * n
    return Predictions(
        words=list(words),
        sentence=numpy.array(sentence if sentence is not None else [0] * n, dtype="int64"),
        gold_tag=strings(*gold_tag),
        gold_pos=strings(*(gold_pos or blank)),
        tag=strings(*tag),
        pos=strings(*(pos or blank)),
        prob=numpy.array(prob if prob is not None else [numpy.nan] * n, dtype="float64"),
        gold_morph=strings(*(gold_morph or blank)),
        morph=strings(*(morph or blank)),
        gold_lemma=strings(*(gold_lemma or blank)),
        lemma=strings(*(lemma or blank)),
        morph_prob=numpy.full(n, numpy.nan),
    )


def test_per_tag_precision_recall_and_f1_by_hand():
    gold = strings("A", "A", "A", "B", "B", "C", "E", "A", "G", "E")
    guess = strings("A", "A", "B", "B", "", "A", "D", "C", "", "D")
    # (A,A) x2: tp A 2; (A,B): fn A, fp B; (B,B): tp B; (B,""): fn B;
    # (C,A): fn C, fp A; (E,D) x2: fn E 2, fp D 2; (A,C): fn A, fp C; (G,""): fn G.
    # A: tp 2 fp 1 fn 2; B: tp 1 fp 1 fn 1; C: fp 1 fn 1; D: fp 2; E: fn 2; G: fn 1.
    # "" (no tag predicted) is no tag of its own.
    rows = per_tag(gold, guess)
    assert rows == [
        {"tag": "A", "precision": 2 / 3, "recall": 2 / 4, "f1": 4 / 7, "support": 4, "errors": 3},
        # errors 2 and support 2 alike: by tag
        {"tag": "B", "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "errors": 2},
        {"tag": "E", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2, "errors": 2},
        {"tag": "C", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "errors": 2},
        {"tag": "D", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "errors": 2},
        {"tag": "G", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "errors": 1},
    ]


def test_per_tag_of_perfect_predictions():
    rows = per_tag(strings("X", "Y", "X"), strings("X", "Y", "X"))
    assert rows == [
        {"tag": "X", "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2, "errors": 0},
        {"tag": "Y", "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1, "errors": 0},
    ]


def test_confusion_among_the_tags_most_involved_in_errors():
    gold = strings("A", "A", "B", "C", "C", "C", "D", "C")
    guess = strings("A", "B", "A", "C", "A", "D", "D", "A")
    # errors (A,B), (B,A), (C,A) x2, (C,D): A 4, C 3, B 2, D 1; the top 3: A, C, B
    result = confusion(gold, guess, n_tags=3)
    assert result["tags"] == ["A", "C", "B"]
    assert result["matrix"] == [
        # predicted A, C, B; D is left out
        [1, 0, 1],  # gold A
        [2, 1, 0],  # gold C
        [1, 0, 0],  # gold B
    ]
    assert result["pairs"] == [
        {"gold": "C", "predicted": "A", "count": 2},
        {"gold": "A", "predicted": "B", "count": 1},
        {"gold": "B", "predicted": "A", "count": 1},
        {"gold": "C", "predicted": "D", "count": 1},
    ]


def test_confusion_keeps_12_tags_and_25_pairs():
    # 30 tags T00..T29, each once and taken for X: X is in 30 errors, each T in one
    gold = strings(*[f"T{i:02d}" for i in range(30)])
    result = confusion(gold, strings(*["X"] * 30))
    assert result["tags"] == ["X"] + [f"T{i:02d}" for i in range(11)]
    assert result["matrix"] == [[0] * 12] + [[1] + [0] * 11 for _ in range(11)]
    assert result["pairs"] == [{"gold": f"T{i:02d}", "predicted": "X", "count": 1} for i in range(25)]


def test_calibration_by_hand():
    probs = numpy.array([0.95, 0.95, 0.65, numpy.nan, 0.15])
    right = numpy.array([True, False, True, True, False])
    result = calibration(probs, right)
    # the token without a probability is left out: 4 tokens
    assert result["tokens"] == 4
    # bins: [0.9, 1) 2 tokens, mean 0.95, 1 right; [0.6, 0.7) 0.65, right; [0.1, 0.2) 0.15, wrong
    expected = [(0.1, 0.2, 1, 0.15, 0.0), (0.6, 0.7, 1, 0.65, 1.0), (0.9, 1.0, 2, 0.95, 0.5)]
    assert len(result["bins"]) == len(expected)
    for got, (low, high, tokens, confidence, accuracy) in zip(result["bins"], expected):
        assert got == pytest.approx(
            {"low": low, "high": high, "tokens": tokens, "confidence": confidence, "accuracy": accuracy}
        )
    # 1/4 * 0.15 + 1/4 * 0.35 + 2/4 * 0.45
    assert result["ece"] == pytest.approx(0.35)
    # most confident first: 0.95 right, 0.95 wrong, 0.65 right, 0.15 wrong
    kept = {point["share"]: point for point in result["kept"]}
    assert [point["share"] for point in result["kept"]] == KEPT_SHARES
    assert len(KEPT_SHARES) == 100 and KEPT_SHARES[0] == 1.0 and KEPT_SHARES[-1] == 0.01
    assert kept[1.0] == {"share": 1.0, "threshold": 0.15, "tokens": 4, "accuracy": 0.5}
    assert kept[0.75] == {"share": 0.75, "threshold": 0.65, "tokens": 3, "accuracy": 2 / 3}
    assert kept[0.5] == {"share": 0.5, "threshold": 0.95, "tokens": 2, "accuracy": 0.5}
    assert kept[0.01] == {"share": 0.01, "threshold": 0.95, "tokens": 1, "accuracy": 1.0}


def test_calibration_without_probabilities():
    result = calibration(numpy.array([numpy.nan, numpy.nan]), numpy.array([True, False]))
    assert result == {"tokens": 0, "ece": None, "bins": [], "kept": []}


def test_accuracies_over_the_tokens_with_a_gold_label():
    pred = predictions(
        ["a", "b", "c", "d"], gold_tag=["A", "B", "", "A"], tag=["A", "A", "B", "A"],
        gold_pos=["", "", "", ""], pos=["X", "X", "X", "X"],
    )
    # tag: 2 of the 3 gold-tagged tokens (the third token has no gold tag)
    assert accuracies(pred) == {"tag": 2 / 3, "pos": None}
    pred.gold_pos, pred.pos = strings("N", "N", "V", ""), strings("", "", "", "")
    assert accuracies(pred)["pos"] is None  # the pipeline writes no pos
    pred.pos = strings("N", "V", "", "V")
    assert accuracies(pred)["pos"] == 1 / 3


def test_frequency_bands_and_their_edges():
    words = ["The", "dog", "cat", "ran", "fast", "away", "home", "Big", "x"]
    gold = ["DET", "NN", "NN", "V", "ADV", "ADV", "NN", "ADJ", ""]
    right = numpy.array([True, False, True, True, False, True, True, False, False])
    counts = Counter({"the": 150, "cat": 1, "ran": 9, "fast": 2, "away": 10, "home": 99, "big": 100, "x": 1})
    pred = predictions(words, gold, gold)
    assert frequency_bands(pred, right, counts) == [
        {"band": "0", "tokens": 1, "accuracy": 0.0},  # dog
        {"band": "1", "tokens": 1, "accuracy": 1.0},  # cat (x has no gold tag)
        {"band": "2-9", "tokens": 2, "accuracy": 0.5},  # ran, fast
        {"band": "10-99", "tokens": 2, "accuracy": 1.0},  # away, home
        {"band": "100+", "tokens": 2, "accuracy": 0.5},  # The, Big
    ]
    # bands without a token are left out
    counts = Counter({w.lower(): 5 for w in words})
    assert frequency_bands(pred, right, counts) == [{"band": "2-9", "tokens": 8, "accuracy": 5 / 8}]


def test_unknown_tag_warning_with_counts():
    # 2,000 gold tokens: 800 A (known), 1,200 of six unknown tags
    gold = ["A"] * 800 + ["U1"] * 300 + ["U2"] * 250 + ["U3"] * 200 + ["U4"] * 200 + ["U5"] * 150 + ["U6"] * 100
    labels = ("A", "B", "C", "D", "E", "F", "G", "H", "I")
    assert unknown_tag_warnings(strings(*gold), labels) == [
        "60% of the gold tokens (1,200 of 2,000) carry tags the model does not know (most often: "
        "U1, U2, U3, U4, U5); the model's tags are A, B, C, D, E, F, G, H, ...: does the gold "
        "corpus use the model's tag set?"
    ]
    assert unknown_tag_warnings(strings("X", "X", "A"), ["A", "B"]) == [
        "67% of the gold tokens (2 of 3) carry tags the model does not know (most often: X); "
        "the model's tags are A, B: does the gold corpus use the model's tag set?"
    ]
    labels = ("A", "B", "C", "D", "E", "F", "G", "H")  # 8: all of them
    assert unknown_tag_warnings(strings("X", "X", "A"), labels)[0].count("A, B, C, D, E, F, G, H: does") == 1


def test_no_warning_up_to_half_unknown():
    assert unknown_tag_warnings(strings("X", "A"), ("A",)) == []
    assert unknown_tag_warnings(strings("X", "A", "A"), ("A",)) == []


def test_context_either_side_of_a_token():
    doc = Doc(Vocab(), words=[f"w{i}" for i in range(20)])
    assert context(doc, 0) == {"before": "", "word": "w0", "after": "w1 w2 w3 w4 w5 w6 w7 w8 ..."}
    assert context(doc, 8) == {
        "before": "w0 w1 w2 w3 w4 w5 w6 w7", "word": "w8", "after": "w9 w10 w11 w12 w13 w14 w15 w16 ...",
    }
    assert context(doc, 9)["before"] == "... w1 w2 w3 w4 w5 w6 w7 w8"
    assert context(doc, 10)["after"] == "w11 w12 w13 w14 w15 w16 w17 w18 ..."
    assert context(doc, 11)["after"] == "w12 w13 w14 w15 w16 w17 w18 w19"
    assert context(doc, 19) == {"before": "... w11 w12 w13 w14 w15 w16 w17 w18", "word": "w19", "after": ""}


def frequent_errors_case():
    vocab = Vocab()
    docs = [
        Doc(vocab, words=["The", "Dog", "saw", "a", "dog"]),
        Doc(vocab, words=["Dogs", "saw", "the", "dog", "bark"]),
    ]
    pred = predictions(
        [t.text for doc in docs for t in doc],
        gold_tag=["DET", "NN", "VBD", "DET", "NN", "NNS", "VBD", "", "NN", "VB"],
        tag=["DET", "VB", "VBD", "DET", "VB", "NNS", "NN", "X", "VB", "NN"],
        sentence=[0] * 5 + [1] * 5,
    )
    return docs, pred


def test_frequent_errors_with_the_context_of_the_first():
    docs, pred = frequent_errors_case()
    # (dog, NN, VB) 3 times, first "Dog" in the first sentence; (saw, VBD, NN) and
    # (bark, VB, NN) once, in the second; "the" has no gold tag: no error
    assert frequent_errors(pred, docs) == [
        {"word": "dog", "gold": "NN", "predicted": "VB", "count": 3,
         "context": {"before": "The", "word": "Dog", "after": "saw a dog"}},
        {"word": "saw", "gold": "VBD", "predicted": "NN", "count": 1,
         "context": {"before": "Dogs", "word": "saw", "after": "the dog bark"}},
        {"word": "bark", "gold": "VB", "predicted": "NN", "count": 1,
         "context": {"before": "Dogs saw the dog", "word": "bark", "after": ""}},
    ]
    assert [row["word"] for row in frequent_errors(pred, docs, n=2)] == ["dog", "saw"]


def test_frequent_errors_keeps_25():
    words = [f"w{i}" for i in range(30)]
    docs = [Doc(Vocab(), words=words)]
    pred = predictions(words, gold_tag=["A"] * 30, tag=["B"] * 30)
    assert [row["word"] for row in frequent_errors(pred, docs)] == words[:25]


def test_compare_two_pipelines_by_hand():
    gold = ["A", "A", "B", "B", "C", "", "E", "F", "F"]
    ours = predictions("abcdefghi", gold, ["A", "B", "B", "A", "C", "X", "E", "F", "H"],
                       gold_pos=["N"] * 9, pos=["N"] * 9)
    theirs = predictions("abcdefghi", gold, ["A", "A", "B", "C", "D", "Y", "A", "G", "F"],
                         gold_pos=["N"] * 9)
    seen = numpy.array([True, False, True, True, False, False, True, True, False])
    result = compare(ours, theirs, seen)
    # ours right on 0, 2, 4, 6, 7 of the 8 gold-tagged; theirs on 0, 1, 2, 8
    assert result["accuracy"] == {"tag": 5 / 8, "pos": 1.0}
    assert result["other_accuracy"] == {"tag": 4 / 8, "pos": None}
    # unseen and gold-tagged: 1 and 8 (theirs right), 4 (theirs wrong)
    assert result["other_unseen_accuracy"] == 2 / 3
    assert result["only_ours_right"] == 3  # 4, 6, 7
    assert result["only_other_right"] == 2  # 1, 8
    # ours: A tp 1 fp 1 fn 1, B tp 1 fp 1 fn 1, C tp 1, E tp 1, F tp 1 fn 1
    # theirs: A tp 2 fp 1 (E taken for A), B tp 1 fn 1, C fn 1 fp 1, E fn 1, F tp 1 fn 1
    # by how much more often one of the two alone is right, then support, then tag
    assert result["per_tag"] == [
        {"tag": "A", "support": 2, "f1": 0.5, "other_f1": 0.8, "only_ours_right": 0, "only_other_right": 1},
        {"tag": "C", "support": 1, "f1": 1.0, "other_f1": 0.0, "only_ours_right": 1, "only_other_right": 0},
        {"tag": "E", "support": 1, "f1": 1.0, "other_f1": 0.0, "only_ours_right": 1, "only_other_right": 0},
        {"tag": "B", "support": 2, "f1": 0.5, "other_f1": 2 / 3, "only_ours_right": 0, "only_other_right": 0},
        {"tag": "F", "support": 2, "f1": 2 / 3, "other_f1": 2 / 3, "only_ours_right": 1, "only_other_right": 1},
    ]


def test_compare_with_every_word_seen():
    ours = predictions("ab", ["A", "B"], ["A", "B"])
    result = compare(ours, predictions("ab", ["A", "B"], ["A", "A"]), numpy.array([True, True]))
    assert result["other_unseen_accuracy"] is None
    assert result["per_tag"] == [
        {"tag": "B", "support": 1, "f1": 1.0, "other_f1": 0.0, "only_ours_right": 1, "only_other_right": 0},
        {"tag": "A", "support": 1, "f1": 1.0, "other_f1": 2 / 3, "only_ours_right": 0, "only_other_right": 0},
    ]


def test_feats_of_a_token():
    doc = Doc(Vocab(), words=["a", "b"], morphs=["Number=Sing", "_"])
    assert [feats_of(t) for t in doc] == ["Number=Sing", "_"]
    assert [feats_of(t) for t in Doc(Vocab(), words=["a"])] == [""]


def test_morph_and_lemma_say_why_not():
    pred = predictions(["a", "b"], ["A", "B"], ["A", "B"], gold_lemma=["a", "b"], lemma=["a", "c"],
                       gold_morph=["", ""], morph=["_", "_"])
    result = morph_and_lemma(pred, numpy.array([True, False]), ("tag", "lemma"))
    assert result["morph"] is None
    assert result["not_evaluated"] == {"morph": "the gold corpus has no FEATS"}
    assert result["lemma"]["tokens"] == 2 and result["lemma"]["accuracy"] == 0.5
    assert result["lemma"]["seen"] == {"seen": {"tokens": 1, "accuracy": 1.0},
                                       "unseen": {"tokens": 1, "accuracy": 0.0}}
    # the pipeline writes no lemmas and the gold has features
    pred.gold_morph, pred.morph, pred.lemma = strings("_", "Number=Sing"), strings("_", "_"), strings("", "")
    result = morph_and_lemma(pred, numpy.array([True, False]), ("tag", "morph"))
    assert result["lemma"] is None
    assert result["not_evaluated"] == {"lemma": "the pipeline writes no token.lemma_"}
    assert result["morph"]["accuracy"] == 0.5
    # the lstm_tagger writes lemmas, though none here: evaluated, all wrong
    result = morph_and_lemma(pred, numpy.array([True, False]), ("tag", "lemma"))
    assert result["not_evaluated"] == {}
    assert result["lemma"]["accuracy"] == 0.0


def test_word_counts_are_lowercased():
    vocab = Vocab()
    docs = [Doc(vocab, words=["The", "dog"]), Doc(vocab, words=["the", "THE"])]
    assert word_counts(docs) == Counter({"the": 3, "dog": 1})


# A pipeline whose lstm_tagger (untrained) knows the words of TRAIN, followed by
# a component that sets the tags, UPOS and probabilities of SCRIPT: the
# probabilities are (with the tagger's temperature, at 1.0).
TRAIN = [("the dog ate".split(), "DET NN V".split()), ("a cat".split(), "DET NN".split())]
SCRIPT = {
    "The": ("DET", "DET", 0.95, 0.99), "dog": ("NN", "NOUN", 0.85, 0.9), "ate": ("NN", "NOUN", 0.55, 0.8),
    "a": ("DET", "DET", 0.95, 0.99), "bird": ("V", "VERB", 0.35, 0.6), "sang": ("V", "VERB", 0.75, 0.7),
}
TEXTS = []  # the texts the scripted component saw


@Language.factory("scripted_tags_for_tests", default_config={"with_probs": True, "lemmas": False})
def make_scripted_tags(nlp, name, with_probs, lemmas):
    def set_tags(doc):
        TEXTS.append(doc.text)
        temperature = find_lstm_tagger(nlp).cfg["tag_temperature"] if with_probs else None
        for token in doc:
            tag, pos, prob, raw = SCRIPT[token.text]
            token.tag_ = tag if with_probs else "V"
            token.pos_ = pos if with_probs else ""
            if with_probs:
                token._.tag_prob = raw if temperature == 1.0 else prob
            if lemmas:
                token.lemma_ = token.text.lower()
        return doc

    return set_tags


def scripted_pipeline(temperature, lemmas=False):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": SMALL_MODEL})
    examples = [Example(Doc(nlp.vocab, words=w), Doc(nlp.vocab, words=w, tags=t)) for w, t in TRAIN]
    nlp.initialize(lambda: examples)
    find_lstm_tagger(nlp).cfg["tag_temperature"] = temperature
    nlp.add_pipe("scripted_tags_for_tests", config={"lemmas": lemmas})
    return nlp


def gold_docs(vocab):
    return [
        Doc(vocab, words=["The", "dog", "ate"], spaces=[True, True, False],
            tags=["DET", "NN", "V"], pos=["DET", "NOUN", "VERB"]),
        Doc(vocab, words=["a", "bird", "sang"], tags=["DET", "NN", ""], pos=["DET", "NOUN", "VERB"]),
    ]


def test_predict_reads_the_pipelines_annotations_on_the_gold_tokens():
    nlp = scripted_pipeline(2.0)
    docs = gold_docs(nlp.vocab)
    TEXTS.clear()
    pred = predict(nlp, docs, batch_size=1)
    assert TEXTS == ["The dog ate", "a bird sang "]  # the gold tokens and spaces
    assert pred.words == ["The", "dog", "ate", "a", "bird", "sang"]
    assert pred.sentence.tolist() == [0, 0, 0, 1, 1, 1]
    assert pred.gold_tag.tolist() == ["DET", "NN", "V", "DET", "NN", ""]
    assert pred.gold_pos.tolist() == ["DET", "NOUN", "VERB", "DET", "NOUN", "VERB"]
    assert pred.tag.tolist() == ["DET", "NN", "NN", "DET", "V", "V"]
    assert pred.pos.tolist() == ["DET", "NOUN", "NOUN", "DET", "VERB", "VERB"]
    assert pred.prob.tolist() == [0.95, 0.85, 0.55, 0.95, 0.35, 0.75]
    assert pred.gold_morph.tolist() == pred.morph.tolist() == [""] * 6
    assert pred.gold_lemma.tolist() == pred.lemma.tolist() == [""] * 6
    other = spacy.blank("en")
    other.add_pipe("scripted_tags_for_tests", config={"with_probs": False})
    theirs = predict(other, docs)
    assert theirs.tag.tolist() == ["V"] * 6
    assert numpy.isnan(theirs.prob).all()


def test_evaluate_by_hand():
    nlp = scripted_pipeline(2.0)
    docs = gold_docs(nlp.vocab)
    other = spacy.blank("en")
    other.add_pipe("scripted_tags_for_tests", config={"with_probs": False})  # V everywhere
    report = evaluate(nlp, docs, other=other)
    # 5 gold-tagged tokens: The dog ate | a bird (sang has none)
    # right: The, dog, a; wrong: ate (NN for V), bird (V for NN)
    assert report["tokens"] == 5 and report["sentences"] == 2
    assert report["accuracy"] == {"tag": 3 / 5, "pos": 4 / 6}  # UPOS: all but ate and bird
    # seen in TRAIN (lowercased): the, dog, ate, a; unseen: bird
    assert report["seen"] == {"seen": {"tokens": 4, "accuracy": 0.75}, "unseen": {"tokens": 1, "accuracy": 0.0}}
    # each word once in the evaluated corpus
    assert report["frequency_source"] == "evaluated corpus"
    assert report["frequency_bands"] == [{"band": "1", "tokens": 5, "accuracy": 0.6}]
    assert [(r["tag"], r["support"], r["errors"]) for r in report["per_tag"]] == [
        ("NN", 2, 2), ("V", 1, 2), ("DET", 2, 0),
    ]
    # wrong: (V, NN), (NN, V): V and NN twice each, V met first
    assert report["confusion"]["tags"] == ["V", "NN"]
    assert report["confusion"]["matrix"] == [[0, 1], [1, 1]]
    # the probabilities with the temperature: 0.95 0.85 0.55 0.95 0.35, right 1 1 0 1 0
    calibrated = report["calibration"]
    assert calibrated["tokens"] == 5 and calibrated["temperature"] == 2.0
    assert calibrated["ece"] == pytest.approx((0.05 + 0.15 + 0.55 + 0.05 + 0.35) / 5)
    # and without it: 0.99 0.9 0.8 0.99 0.6
    assert calibrated["before"]["tokens"] == 5
    assert calibrated["before"]["ece"] == pytest.approx((0.01 + 0.1 + 0.8 + 0.01 + 0.6) / 5)
    assert find_lstm_tagger(nlp).cfg["tag_temperature"] == 2.0
    assert [(e["word"], e["gold"], e["predicted"], e["count"]) for e in report["errors"]] == [
        ("ate", "V", "NN", 1), ("bird", "NN", "V", 1),
    ]
    assert report["errors"][1]["context"] == {"before": "a", "word": "bird", "after": "sang"}
    # the other pipeline (V everywhere) is right only on ate
    assert report["compare"]["other_accuracy"] == {"tag": 0.2, "pos": None}
    assert report["compare"]["other_unseen_accuracy"] == 0.0
    assert (report["compare"]["only_ours_right"], report["compare"]["only_other_right"]) == (3, 1)
    assert report["warnings"] == []
    assert report["morph"] is None and report["lemma"] is None
    assert report["not_evaluated"] == {
        "morph": "the gold corpus has no FEATS", "lemma": "the gold corpus has no lemmas",
    }


def test_evaluate_with_training_counts_and_no_temperature():
    nlp = scripted_pipeline(1.0)
    docs = gold_docs(nlp.vocab)
    counts = Counter({"the": 100, "dog": 3, "ate": 3, "a": 100})
    report = evaluate(nlp, docs, training_counts=counts)
    assert report["frequency_source"] == "training corpus"
    assert report["frequency_bands"] == [
        {"band": "0", "tokens": 1, "accuracy": 0.0},  # bird
        {"band": "2-9", "tokens": 2, "accuracy": 0.5},  # dog, ate
        {"band": "100+", "tokens": 2, "accuracy": 1.0},  # The, a
    ]
    assert report["calibration"]["temperature"] == 1.0
    assert "before" not in report["calibration"]
    assert report["calibration"]["ece"] == pytest.approx((0.01 + 0.1 + 0.8 + 0.01 + 0.6) / 5)
    assert report["compare"] is None


def test_evaluate_warns_of_gold_tags_the_model_lacks():
    nlp = scripted_pipeline(1.0)
    docs = [Doc(nlp.vocab, words=["The", "dog", "ate"], tags=["DT", "NNS", "V"])]
    assert report_warnings(nlp, docs) == [
        "67% of the gold tokens (2 of 3) carry tags the model does not know (most often: DT, NNS); "
        "the model's tags are DET, NN, V: does the gold corpus use the model's tag set?"
    ]


def report_warnings(nlp, docs):
    return evaluate(nlp, docs)["warnings"]


def test_evaluate_a_gold_corpus_without_tags():
    nlp = scripted_pipeline(1.0)
    docs = [Doc(nlp.vocab, words=["The", "dog"]), Doc(nlp.vocab, words=["a"])]
    with pytest.raises(ValueError) as error:
        evaluate(nlp, docs)
    assert str(error.value) == "the gold corpus has no tagged tokens (2 sentences, no XPOS tags)"


def test_evaluate_a_tagger_of_upos_on_gold_without_xpos():
    """A tagger trained where the treebank has no XPOS (pos_from_tag) tags
    UPOS: its tags are counted against the gold UPOS."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": SMALL_MODEL, "pos_from_tag": True})
    words = ["the", "dog", "ate"]
    examples = [Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=["DET", "NOUN", "VERB"]))]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    assert [t.tag_ for t in nlp(Doc(nlp.vocab, words=words))] == ["DET", "NOUN", "VERB"]
    # Gold UPOS and no XPOS; the second word's gold differs from the tagger's.
    report = evaluate(nlp, [Doc(nlp.vocab, words=words, pos=["DET", "VERB", "VERB"])])
    assert (report["tokens"], report["accuracy"]["tag"]) == (3, pytest.approx(2 / 3))
    with pytest.raises(ValueError, match=r"^the gold corpus has no tagged tokens \(1 sentences, no UPOS tags\)$"):
        evaluate(nlp, [Doc(nlp.vocab, words=words)])


def test_evaluate_lemmas_seen_and_unseen():
    nlp = scripted_pipeline(1.0, lemmas=True)  # lemma: the word lowercased
    docs = gold_docs(nlp.vocab)
    for doc, lemmas in zip(docs, [["the", "dog", "eat"], ["a", "bird", "sing"]]):
        for token, lemma in zip(doc, lemmas):
            token.lemma_ = lemma
    report = evaluate(nlp, docs)
    assert report["not_evaluated"] == {"morph": "the gold corpus has no FEATS"}
    # right: the, dog, a, bird; wrong: ate, sang. Seen in training: the, dog, ate, a
    assert report["lemma"]["accuracy"] == 4 / 6
    assert report["lemma"]["seen"] == {"seen": {"tokens": 4, "accuracy": 0.75},
                                       "unseen": {"tokens": 2, "accuracy": 0.5}}
