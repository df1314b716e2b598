"""Morphological features and lemmas from the tagger's own network: one pass
gives tag_, pos_, morph and lemma_."""
import os
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_lstm_tagger.pipeline.lemma_rules import (
    LemmaRule, Lemmatizer, apply_rule, build_lookup, checked_rules, make_rule,
)
from spacy_lstm_tagger.pipeline.model import ModelFileError

from helpers import SMALL_MODEL

# (word, tag, FEATS, lemma) of hand-written sentences.
SENTENCES = [
    [("The", "DET", "Definite=Def|PronType=Art", "the"), ("dogs", "NOUN", "Number=Plur", "dog"),
     ("barked", "VERB", "Tense=Past|VerbForm=Fin", "bark"), (".", "PUNCT", "_", ".")],
    [("A", "DET", "Definite=Ind|PronType=Art", "a"), ("cat", "NOUN", "Number=Sing", "cat"),
     ("was", "AUX", "Mood=Ind|Number=Sing|Person=3|Tense=Past|VerbForm=Fin", "be"),
     ("sleeping", "VERB", "Tense=Pres|VerbForm=Part", "sleep"), (".", "PUNCT", "_", ".")],
    [("Cats", "NOUN", "Number=Plur", "cat"), ("chased", "VERB", "Tense=Past|VerbForm=Fin", "chase"),
     ("the", "DET", "Definite=Def|PronType=Art", "the"), ("Dog", "NOUN", "Number=Sing", "dog")],
]
ALL = ["tag", "pos", "morph", "lemma"]
FAST = {**SMALL_MODEL}


def reference(vocab, sentence, feats=True, lemmas=True):
    words = [w for w, *_ in sentence]
    return Doc(
        vocab, words=words, tags=[t for _, t, _, _ in sentence], pos=[t for _, t, _, _ in sentence],
        morphs=[f for _, _, f, _ in sentence] if feats else None,
        lemmas=[lemma for *_, lemma in sentence] if lemmas else None,
    )


def examples_of(nlp, sentences=SENTENCES, **kwargs):
    return [
        Example(Doc(nlp.vocab, words=[w for w, *_ in s]), reference(nlp.vocab, s, **kwargs))
        for s in sentences
    ]


def trained(annotate=ALL, morph_mode="whole", updates=150, sentences=SENTENCES, **kwargs):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"annotate": annotate, "morph_mode": morph_mode, "model": FAST})
    examples = examples_of(nlp, sentences, **kwargs)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.01
    for _ in range(updates):
        nlp.update(examples, sgd=optimizer)
    return nlp, examples


def texts(sentences=SENTENCES):
    return [" ".join(w for w, *_ in s) for s in sentences]


def analyses(nlp, sentences=SENTENCES):
    docs = [nlp(Doc(nlp.vocab, words=[w for w, *_ in s])) for s in sentences]
    return [[(t.tag_, t.pos_, str(t.morph) or "_", t.lemma_) for t in doc] for doc in docs]


def expected(sentences=SENTENCES):
    return [[(t, t, f, lemma) for _, t, f, lemma in s] for s in sentences]


@pytest.mark.parametrize("morph_mode", ["whole", "per_feature"])
def test_overfits_features_and_lemmas_and_keeps_them_saved(tmp_path, morph_mode):
    nlp, examples = trained(morph_mode=morph_mode)
    assert analyses(nlp) == expected()
    scores = nlp.evaluate(examples)
    assert (scores["morph_acc"], scores["lemma_acc"], scores["tag_acc"], scores["pos_acc"]) == (1, 1, 1, 1)
    nlp.to_disk(tmp_path / "nlp")
    assert analyses(spacy.load(tmp_path / "nlp")) == expected()
    again = spacy.blank("en")
    again.add_pipe("lstm_tagger", config={"annotate": ALL, "morph_mode": morph_mode, "model": FAST})
    again.from_bytes(nlp.to_bytes())
    assert analyses(again) == expected()
