"""Calibration of token._.tag_prob: the expected calibration error, the fitted
temperature, and the temperature a pipeline saves, applies and checks at load."""
import json
import math
import re
import shutil

import numpy
import pytest
import spacy

from spacy_lstm_tagger.pipeline.calibration import (
    fit_temperature,
    kept_curve,
    log_probs_of,
    reliability,
    scale,
    temperature_problem,
    tempered_best,
)

from helpers import TOY_LABELS, TOY_TEXTS


def test_reliability_and_ece_by_hand():
    probs = numpy.array([0.95, 0.95, 0.95, 0.95, 0.55, 0.55, 0.35, 1.0])
    right = numpy.array([1, 1, 1, 0, 1, 0, 0, 1])
    result = reliability(probs, right)
    assert [(b["low"], b["high"], b["tokens"]) for b in result["bins"]] == [(0.3, 0.4, 1), (0.5, 0.6, 2), (0.9, 1.0, 5)]
    top = result["bins"][-1]  # 1.0 falls in the top bin
    assert top["confidence"] == pytest.approx(0.96) and top["accuracy"] == pytest.approx(0.8)
    # |0 - 0.35| * 1/8 + |0.5 - 0.55| * 2/8 + |0.8 - 0.96| * 5/8
    assert result["ece"] == pytest.approx(0.35 / 8 + 0.05 * 2 / 8 + 0.16 * 5 / 8)


def test_kept_curve_keeps_the_most_confident():
    probs = numpy.array([0.9, 0.5, 0.99, 0.7])
    right = numpy.array([1, 0, 1, 0])
    points = kept_curve(probs, right, [1.0, 0.5, 0.25])
    assert [(p["share"], p["tokens"], p["threshold"], p["accuracy"]) for p in points] == [
        (1.0, 4, 0.5, 0.5), (0.5, 2, 0.9, 1.0), (0.25, 1, 0.99, 1.0)
    ]


def test_kept_curve_breaks_ties_by_keeping_the_earlier_tokens():
    # 20 tokens at 0.9 (the first ten right, the last ten wrong) between 20 at 0.5:
    # a quarter keeps ten of the tied 0.9 tokens, the first ten in the text.
    probs = numpy.array([0.5, 0.9] * 20)
    right = numpy.array([0, 1] * 10 + [0, 0] * 10)
    (point,) = kept_curve(probs, right, [0.25])
    assert (point["tokens"], point["threshold"], point["accuracy"]) == (10, 0.9, 1.0)


def test_a_float32_confidence_is_binned_by_its_value():
    # float32(0.7) is 0.69999998807907...: it belongs in [0.6, 0.7), not [0.7, 0.8).
    probs = numpy.array([0.7, 0.7, 0.3], dtype="float32")
    result = reliability(probs, numpy.array([1, 0, 1]))
    assert [(b["low"], b["tokens"]) for b in result["bins"]] == [(0.3, 1), (0.6, 2)]
    assert result["bins"][1]["confidence"] == float(numpy.float32(0.7))


def test_fitted_temperature_recovers_the_one_that_made_the_data():
    rng = numpy.random.default_rng(0)
    logits = rng.normal(scale=4.0, size=(20000, 8))
    true_log_probs = scale(logits, 2.5)  # the data follow the logits tempered by 2.5
    gold = numpy.array([rng.choice(8, p=numpy.exp(row)) for row in true_log_probs])
    over_confident = scale(logits, 1.0)
    assert fit_temperature(over_confident, gold) == pytest.approx(2.5, rel=0.05)
    ece = lambda lp: reliability(numpy.exp(lp.max(axis=1)), lp.argmax(axis=1) == gold)["ece"]
    assert ece(scale(over_confident, 2.5)) < 0.02 < ece(over_confident)


def test_temperature_tempers_tag_prob_and_keeps_the_tags(toy_pipeline, tmp_path):
    nlp = spacy.load(toy_pipeline, config={"components": {"lstm_tagger": {"top_k": 3}}})
    tagger = nlp.get_pipe("lstm_tagger")
    before = [nlp(text) for text in TOY_TEXTS]
    tagger.cfg["tag_temperature"] = 3.0
    nlp.to_disk(tmp_path / "tempered")
    loaded = spacy.load(tmp_path / "tempered")
    assert loaded.get_pipe("lstm_tagger").cfg["tag_temperature"] == 3.0
    for text, doc in zip(TOY_TEXTS, before):
        raw = loaded.get_pipe("lstm_tagger").predict([loaded.make_doc(text)])[0]
        tempered = loaded(text)
        assert [t.tag_ for t in tempered] == [t.tag_ for t in doc]
        for token, row, old in zip(tempered, raw, doc):
            expected = numpy.exp(scale(numpy.log(row[None, :].astype("float64")), 3.0)[0]).max()
            assert token._.tag_prob == pytest.approx(expected, rel=1e-5)
            assert 1 / len(TOY_LABELS) < token._.tag_prob < old._.tag_prob
            assert sum(p for _, p in token._.tag_top_k) == pytest.approx(1.0, abs=1e-5)
            assert token._.tag_top_k[0] == (token.tag_, token._.tag_prob)


def write_cfg_with_temperature(pipeline, text, key="tag_temperature"):
    cfg_file = pipeline / "lstm_tagger" / "cfg"
    cfg = json.loads(cfg_file.read_text())
    cfg[key] = "TEMPERATURE"
    cfg_file.write_text(json.dumps(cfg).replace('"TEMPERATURE"', text))
    return cfg_file


# Tiny temperatures made every tag_prob NaN (1e-320) or 1.0 (1e-30); huge
# ones made every tag_prob 1 / the number of tags.
@pytest.mark.parametrize(
    "text", ["0", "-1.5", '"2"', "true", "null", "1e400", "1e-320", "1e-30", "0.099", "20.01", "1e300"]
)
@pytest.mark.parametrize("key", ["tag_temperature", "morph_temperature"])
def test_a_bad_temperature_is_refused_at_load(toy_pipeline, tmp_path, text, key):
    copy = tmp_path / "pipeline"
    shutil.copytree(toy_pipeline, copy)
    cfg_file = write_cfg_with_temperature(copy, text, key)
    with pytest.raises(ValueError) as info:
        spacy.load(copy)
    value = json.loads(text)
    assert str(info.value) == (
        f"[lstm_tagger] cannot load {cfg_file}: "
        f"cfg {key!r} must be a number from 0.1 to 20 (the range a fit gives), got {value!r}"
    )


def test_the_fit_gives_only_temperatures_a_pipeline_loads(toy_pipeline, tmp_path):
    # Always right but unsure: the fit wants T -> 0; always wrong and sure: T -> infinity.
    unsure = numpy.log(numpy.array([[0.4, 0.3, 0.3]] * 50))
    sure = numpy.log(numpy.array([[0.98, 0.01, 0.01]] * 50))
    gold = numpy.zeros(50, dtype="int64")
    low, high = fit_temperature(unsure, gold), fit_temperature(sure, gold + 1)
    assert low == pytest.approx(0.1, rel=1e-3) and high == pytest.approx(20.0, rel=1e-3)
    for temperature in (low, high):
        copy = tmp_path / str(temperature)
        shutil.copytree(toy_pipeline, copy)
        write_cfg_with_temperature(copy, json.dumps(temperature))
        assert spacy.load(copy).get_pipe("lstm_tagger").cfg["tag_temperature"] == pytest.approx(temperature, rel=1e-12)


@pytest.mark.parametrize("text", ["NaN", "Infinity"])
def test_a_temperature_beyond_json_is_refused_as_damage(toy_pipeline, tmp_path, text):
    copy = tmp_path / "pipeline"
    shutil.copytree(toy_pipeline, copy)
    cfg_file = write_cfg_with_temperature(copy, text)
    # JSON has no NaN or infinity: the cfg file's parser refuses it, naming the file.
    with pytest.raises(ValueError, match=f"^\\[lstm_tagger\\] cannot load {re.escape(str(cfg_file))}: "):
        spacy.load(copy)


def test_the_ends_of_the_temperature_range_are_allowed():
    assert temperature_problem(0.1) is None and temperature_problem(20.0) is None and temperature_problem(20) is None
    assert temperature_problem(20.000001) is not None and temperature_problem(0.0999999) is not None
    assert temperature_problem(True) is not None  # a bool is not a number here, though True == 1


def test_a_probability_that_underflowed_to_zero_reads_as_the_smallest_float32():
    # The smallest normal float32 is 2 ** -126, so its log is -126 log 2 (about -87.34).
    log_probs = log_probs_of(numpy.array([[0.0, 0.25, 0.75]], dtype="float32"))
    numpy.testing.assert_allclose(log_probs, [[-126 * math.log(2), math.log(0.25), math.log(0.75)]], rtol=1e-6)


def test_scale_tempers_each_token_on_its_own():
    # Two tokens whose scores are 2000 apart: one token's scores must not move the other's.
    scores = numpy.array([[0.0, -1.0, -3.0], [-2000.0, -2001.0, -2003.0]])
    scaled = scale(scores, 2.0)
    expected = softmax_by_hand([0.0, -1.0, -3.0], 2.0)
    numpy.testing.assert_allclose(numpy.exp(scaled), [expected, expected], rtol=1e-12)


def log_softmax_by_hand(scores):
    top = scores.max(axis=1, keepdims=True)
    return scores - top - numpy.log(numpy.exp(scores - top).sum(axis=1, keepdims=True))


def mean_nll_by_hand(log_probs, gold, temperature):
    return -log_softmax_by_hand(log_probs / temperature)[numpy.arange(len(gold)), gold].mean()


def test_fitted_temperature_is_the_best_on_a_fine_grid():
    # Tokens of very different sharpness (row scales 0.2 to 8): the fit must weigh
    # each token's own normaliser, not one shared by all tokens.
    rng = numpy.random.default_rng(1)
    logits = rng.normal(size=(600, 6)) * numpy.geomspace(0.2, 8.0, 600)[:, None]
    gold = numpy.array([rng.choice(6, p=numpy.exp(row)) for row in log_softmax_by_hand(logits / 1.7)])
    log_probs = log_softmax_by_hand(logits)
    grid = numpy.geomspace(0.1, 20.0, 20001)
    best = grid[numpy.argmin([mean_nll_by_hand(log_probs, gold, t) for t in grid])]
    assert 1.2 < best < 2.5
    assert fit_temperature(log_probs, gold) == pytest.approx(best, rel=1e-3)


def softmax_by_hand(scores, temperature):
    exps = [math.exp(s / temperature) for s in scores]
    return [e / sum(exps) for e in exps]


@pytest.mark.parametrize("temperature", [0.25, 1.0, 2.0, 3.0])
def test_scale_is_the_softmax_of_the_scores_divided_by_the_temperature(temperature):
    logits = [2.0, 1.0, 0.0, -1.5]
    log_softmax = [math.log(p) for p in softmax_by_hand(logits, 1.0)]
    scaled = scale(numpy.array([log_softmax]), temperature)
    numpy.testing.assert_allclose(numpy.exp(scaled[0]), softmax_by_hand(logits, temperature), rtol=1e-12)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 1.3, 4.0])
def test_tempered_best_is_the_tempered_softmax_at_one_column(temperature):
    rng = numpy.random.default_rng(2)
    probs = numpy.exp(log_softmax_by_hand(rng.normal(scale=3.0, size=(50, 7)))).astype("float32")
    probs[0, 3] = 0.0  # an underflowed probability
    best = rng.integers(0, 7, size=50)  # any column, not only the largest
    expected = [softmax_by_hand([math.log(max(p, 1e-45)) for p in row], temperature)[b]
                for row, b in zip(probs.tolist(), best)]
    numpy.testing.assert_allclose(tempered_best(probs, best, temperature), expected, rtol=1e-5)


def test_tag_prob_with_a_temperature_is_the_tempered_softmax(toy_pipeline):
    nlp = spacy.load(toy_pipeline)
    tagger = nlp.get_pipe("lstm_tagger")
    tagger.cfg["tag_temperature"] = 2.0
    doc = nlp(TOY_TEXTS[0])
    (probs,) = tagger.predict([nlp.make_doc(TOY_TEXTS[0])])
    for token, row in zip(doc, probs.tolist()):
        # Scores are log-probabilities up to a constant: softmax(log(p) / T).
        tempered = softmax_by_hand([math.log(p) for p in row], 2.0)
        assert token._.tag_prob == pytest.approx(max(tempered), rel=1e-5)
        assert token._.tag_prob < max(row)


def test_ece_by_hand_at_the_bin_edges():
    # 0.5 opens the bin [0.5, 0.6); 0.0 is in the lowest bin, 1.0 in the highest.
    probs = numpy.array([0.0, 0.5, 0.5, 0.59, 1.0, 1.0])
    right = numpy.array([0, 1, 0, 0, 1, 1])
    result = reliability(probs, right)
    assert [(b["low"], b["tokens"]) for b in result["bins"]] == [(0.0, 1), (0.5, 3), (0.9, 2)]
    # |0 - 0| * 1/6 + |1/3 - 0.53| * 3/6 + |1 - 1| * 2/6
    assert result["ece"] == pytest.approx(abs(1 / 3 - 0.53) * 3 / 6)
    assert reliability(numpy.array([0.25, 0.25, 0.25, 0.25]), numpy.array([1, 0, 0, 0]))["ece"] == 0.0


def test_fitted_temperature_stays_within_its_range_of_0_1_to_20():
    rng = numpy.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(2000, 5))
    log_probs = scale(logits, 1.0)
    # Always the most likely tag: the sharper the better, down to the lowest temperature.
    assert fit_temperature(log_probs, log_probs.argmax(axis=1)) == pytest.approx(0.1, rel=1e-3)
    # Gold tags that have nothing to do with the scores: the flatter the better.
    assert fit_temperature(log_probs, rng.integers(0, 5, size=2000)) == pytest.approx(20.0, rel=1e-3)
