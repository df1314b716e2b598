"""token._.tag_prob and token._.tag_top_k: how sure the tagger is."""

import pytest
import spacy
from spacy.tokens import Doc, Token
from thinc.api import fix_random_seed

from helpers import SMALL_MODEL, TOY_LABELS, TOY_TEXTS, toy_examples

TOP_K = {"components": {"lstm_tagger": {"top_k": len(TOY_LABELS)}}}


def test_tag_prob_is_the_probability_of_the_predicted_tag(toy_pipeline):
    nlp = spacy.load(toy_pipeline)
    texts = TOY_TEXTS + ["Zyxx qwerty 😀 東京"]
    # One batch, as nlp.pipe runs them.
    all_scores = nlp.get_pipe("lstm_tagger").predict([nlp.make_doc(t) for t in texts])
    for doc, scores in zip(nlp.pipe(texts), all_scores):
        for token, row in zip(doc, scores):
            best = int(row.argmax())
            assert token.tag_ == TOY_LABELS[best]
            assert token._.tag_prob == pytest.approx(row[best])
            assert 1 / len(TOY_LABELS) <= token._.tag_prob <= 1.0
        assert all(token._.tag_top_k is None for token in doc)  # top_k = 0: off


def test_top_k_covers_all_tags_sums_to_one_and_starts_at_the_tag(toy_pipeline):
    nlp = spacy.load(toy_pipeline, config=TOP_K)
    doc = nlp("The dog ate the apple , qwerty")
    for token in doc:
        top = token._.tag_top_k
        assert sorted(tag for tag, _ in top) == sorted(TOY_LABELS)
        assert sum(p for _, p in top) == pytest.approx(1.0, abs=1e-5)
        assert top[0] == (token.tag_, token._.tag_prob)
        probs = [p for _, p in top]
        assert probs == sorted(probs, reverse=True)


def test_top_k_larger_than_the_labels_is_clipped(toy_pipeline):
    nlp = spacy.load(toy_pipeline, config={"components": {"lstm_tagger": {"top_k": 50}}})
    assert all(len(t._.tag_top_k) == len(TOY_LABELS) for t in nlp("The dog"))


def test_top_k_is_a_config_setting_that_survives_saving(toy_pipeline, tmp_path):
    nlp = spacy.load(toy_pipeline, config={"components": {"lstm_tagger": {"top_k": 2}}})
    assert nlp.config["components"]["lstm_tagger"]["top_k"] == 2
    nlp.to_disk(tmp_path / "top2")
    loaded = spacy.load(tmp_path / "top2")
    assert loaded.get_pipe("lstm_tagger").top_k == 2
    assert all(len(t._.tag_top_k) == 2 for t in loaded("The dog ate"))
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("lstm_tagger", config={"top_k": 2, "model": SMALL_MODEL})
    nlp2.from_bytes(nlp.to_bytes())
    assert all(len(t._.tag_top_k) == 2 for t in nlp2("The dog ate"))
    # Overriding it when loading wins over what was saved.
    off = spacy.load(tmp_path / "top2", config={"components": {"lstm_tagger": {"top_k": 0}}})
    assert all(t._.tag_top_k is None for t in off("The dog ate"))


def test_confidences_travel_with_doc_bytes(toy_pipeline):
    nlp = spacy.load(toy_pipeline, config=TOP_K)
    doc = nlp(TOY_TEXTS[0])
    restored = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert [t._.tag_prob for t in restored] == [t._.tag_prob for t in doc]
    # msgpack turns the (tag, prob) tuples into lists; they unpack the same.
    assert [[tuple(x) for x in t._.tag_top_k] for t in restored] == [t._.tag_top_k for t in doc]


def test_only_tag_columns_count_with_predict_pos():
    # Untrained is enough: the scores are log-probabilities either way.
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"predict_pos": True, "top_k": 10})
    examples = toy_examples(nlp)
    for eg, pos in zip(examples, [["DET", "NOUN", "VERB", "DET", "NOUN"], ["PRON", "VERB", "DET", "NOUN"]]):
        for token, label in zip(eg.reference, pos):
            token.pos_ = label
    nlp.initialize(lambda: examples)
    for token in nlp("The dog ate the book"):
        top = token._.tag_top_k
        assert {tag for tag, _ in top} == set(TOY_LABELS)
        assert sum(p for _, p in top) == pytest.approx(1.0, abs=1e-5)
        assert top[0] == (token.tag_, token._.tag_prob)


def test_kept_tags_and_empty_docs(toy_pipeline):
    nlp = spacy.load(toy_pipeline)
    doc = Doc(nlp.vocab, words=["The", "dog"], tags=["X", ""])
    doc = nlp.get_pipe("lstm_tagger")(doc)
    # overwrite = false keeps "X"; tag_prob is still the model's own prediction's.
    assert doc[0].tag_ == "X" and doc[0]._.tag_prob > 0.5
    assert doc[1].tag_ == "NN" and doc[1]._.tag_prob > 0.5
    assert len(nlp("")) == 0


def test_extensions_are_registered_once_and_kept(toy_pipeline):
    spacy.load(toy_pipeline)
    registered = Token.get_extension("tag_prob")
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger")
    nlp.add_pipe("lstm_tagger", name="second")
    assert Token.get_extension("tag_prob") is registered  # not registered anew


def test_negative_top_k_is_refused():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="top_k must be a whole number >= 0"):
        nlp.add_pipe("lstm_tagger", config={"top_k": -1})
