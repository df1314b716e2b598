"""Morphological features and lemmas from the tagger's own network: one pass
gives tag_, pos_, morph and lemma_."""
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy
import pytest
import spacy
import srsly
import torch
from hypothesis import given
from hypothesis import strategies as st
from spacy.strings import StringStore
from spacy.tokens import Doc
from spacy.vocab import Vocab
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_lstm_tagger.pipeline.lemma_rules import (
    KNOWN_SHARE, LemmaRule, Lemmatizer, apply_rule, build_lexicon, build_lookup, checked_rules, make_rule, most_likely,
    rules_seen,
)
from spacy_lstm_tagger.pipeline.calibration import fit_temperature
from spacy_lstm_tagger.pipeline.component import score_tagger
from spacy_lstm_tagger.pipeline.model import ModelFileError
from spacy_lstm_tagger.pipeline.network import BiLSTMTagger, NetworkShape
from spacy_lstm_tagger.training.temperatures import fit_pipeline_temperatures

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


def trained(annotate=ALL, morph_mode="whole", updates=150, sentences=SENTENCES, pos_from_tag=False, **kwargs):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={
        "annotate": annotate, "morph_mode": morph_mode, "model": FAST, "lemma_min_count": 1,
        "pos_from_tag": pos_from_tag,
    })
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
    # Every lemma of these sentences is in the table of pairs seen once; with
    # it off, the lemma layer's rules alone must give them.
    rules_alone = spacy.load(tmp_path / "nlp", config={"components": {"lstm_tagger": {"known_lemma_share": 0}}})
    assert analyses(rules_alone) == expected()
    again = spacy.blank("en")
    again.add_pipe("lstm_tagger", config={"annotate": ALL, "morph_mode": morph_mode, "model": FAST})
    again.from_bytes(nlp.to_bytes())
    assert analyses(again) == expected()


def test_pos_from_tag_writes_the_upos_tags_into_pos_too(tmp_path):
    """A treebank without XPOS: one head for UPOS, written into tag_ and pos_,
    and the predicted features stay (an attribute_ruler's tag map wiped them)."""
    nlp, examples = trained(annotate=["tag", "morph", "lemma"], pos_from_tag=True)
    assert nlp.get_pipe("lstm_tagger").layout.size("pos") == 0
    assert analyses(nlp) == expected()
    scores = nlp.evaluate(examples)
    assert (scores["pos_acc"], scores["tag_acc"], scores["morph_acc"]) == (1, 1, 1)
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.pipe_names == ["lstm_tagger"] and analyses(loaded) == expected()


def test_pos_from_tag_needs_upos_tags_and_no_upos_head():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="pos_from_tag writes token.pos_ from the tags: it cannot go with a UPOS head"):
        nlp.add_pipe("lstm_tagger", config={"pos_from_tag": True, "annotate": ["tag", "pos"]})
    tagger = nlp.add_pipe("lstm_tagger", config={"pos_from_tag": True, "model": FAST})
    example = Example.from_dict(Doc(nlp.vocab, words=["The", "dog"]), {"tags": ["DET", "NN"]})
    with pytest.raises(ValueError, match="pos_from_tag is set, but the tag 'NN' is not a UPOS label"):
        nlp.initialize(lambda: [example])
    assert not tagger.model.is_ready


@pytest.mark.parametrize("morph_mode", ["whole", "per_feature"])
def test_pipe_writes_what_set_annotations_of_predict_writes(morph_mode):
    """nlp.pipe and nlp() score the lemma head only where the lookup does not
    decide; what they write is what predict's full table gives."""
    nlp, _ = trained(morph_mode=morph_mode, sentences=SENTENCES * 2)  # twice: a lookup
    tagger = nlp.get_pipe("lstm_tagger")
    tagger.top_k = 2
    assert tagger.lemmatizer.lookup["NOUN"]["dogs"] == "dog"
    words = [w for s in SENTENCES for w, *_ in s] + ["Mice", "were", "chasing", "rats", "."]

    def docs():
        return [Doc(nlp.vocab, words=words[i : i + 6]) for i in range(0, len(words), 6)]

    def written(doc):
        return [(t.tag_, t.pos_, str(t.morph), t.lemma_, [tag for tag, _ in t._.tag_top_k]) for t in doc]

    by_predict = docs()
    tagger.set_annotations(by_predict, tagger.predict(by_predict))
    by_pipe = list(tagger.pipe(docs(), batch_size=2))
    by_call = [tagger(doc) for doc in docs()]
    assert [written(d) for d in by_pipe] == [written(d) for d in by_predict]
    assert [written(d) for d in by_call] == [written(d) for d in by_predict]
    for ours in (by_pipe, by_call):
        for doc, reference_doc in zip(ours, by_predict):
            assert [t._.tag_prob for t in doc] == pytest.approx([t._.tag_prob for t in reference_doc], abs=1e-6)


def test_scores_of_one_head_are_its_columns_of_all_scores():
    shape = NetworkShape(n_words=5, n_chars=5, n_tags=3, n_pos=2, word_width=4, char_width=3,
                         char_features=4, hidden_width=5, depth=1, extra_heads=(4, 6))
    network = BiLSTMTagger(shape)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in network.parameters():
            param.copy_(torch.randn(param.shape, generator=generator))
    hidden = torch.randn(7, 10, generator=generator)
    every = network.score(hidden)
    assert every.shape == (7, 3 + 2 + 4 + 6)
    for start, stop in ((0, 3), (3, 5), (5, 9), (9, 15)):
        assert torch.allclose(network.score(hidden, slice(start, stop)), every[:, start:stop], atol=1e-6)
    with pytest.raises(ValueError, match="columns 2:4 are not within one output layer"):
        network.score(hidden, slice(2, 4))


# Rules: (form, lemma) -> the rule, written out by hand.
@pytest.mark.parametrize("form, lemma, rule", [
    ("dogs", "dog", ("lower", "", "", "s", "")),
    ("Dogs", "dog", ("lower", "", "", "s", "")),
    ("was", "be", ("lower", "", "", "was", "be")),
    ("London", "London", ("form", "", "", "", "")),  # its own lemma: one rule, any case
    ("dog", "dog", ("form", "", "", "", "")),
    ("Londons", "London", ("title", "", "", "s", "")),
    ("NASAs", "NASA", ("upper", "", "", "s", "")),
    ("McDonald's", "McDonald", ("form", "", "", "'s", "")),
    ("unhappier", "happy", ("lower", "un", "", "ier", "y")),
])
def test_rule_of_form_and_lemma(form, lemma, rule):
    assert make_rule(form, lemma) == LemmaRule(*rule)
    assert apply_rule(LemmaRule(*rule), form) == lemma


@pytest.mark.parametrize("rule, form, lemma", [
    (("lower", "", "", "s", ""), "Cats", "cat"),
    (("title", "", "", "", ""), "paris", "Paris"),
    (("lower", "", "", "was", "be"), "dogs", None),  # does not end with "was"
    (("lower", "un", "", "", ""), "happy", None),  # does not start with "un"
    (("lower", "e", "", "ed", ""), "ed", None),  # prefix and suffix overlap
    (("lower", "", "", "s", ""), "s", None),  # nothing left
    (("form", "", "", "'s", ""), "BURGER'S", None),  # "form" rules match the case as written
    (("form", "", "", "'s", ""), "Burger's", "Burger"),
])
def test_rule_applies_or_says_it_cannot(rule, form, lemma):
    assert apply_rule(LemmaRule(*rule), form) == lemma


# spaCy's edit tree lemmatizer tests (test_roundtrip, test_roundtrip_small_alphabet,
# test_unapplicable_trees), for these rules: a rule made from a form gives its
# lemma back (an empty lemma is no lemma: None), and is refused elsewhere.
@given(st.text(), st.text())
def test_rule_roundtrip(form, lemma):
    assert apply_rule(make_rule(form, lemma), form) == (lemma or None)


@given(st.text(alphabet="abAB"), st.text(alphabet="abAB"))
def test_rule_roundtrip_small_alphabet(form, lemma):
    assert apply_rule(make_rule(form, lemma), form) == (lemma or None)


def test_unapplicable_rules():
    rule = make_rule("deelt", "delen")
    assert apply_rule(rule, "deeld") is None  # the suffix to strip is not there
    assert apply_rule(rule, "de") is None  # prefix and suffix are too large
    assert make_rule("xyz", "xyz") == make_rule("", "")


def test_lemmatizer_falls_back_to_next_rule_then_to_the_form():
    rules = [LemmaRule("lower", "", "", "was", "be"), LemmaRule("lower", "", "", "s", "")]
    lemmatizer = Lemmatizer(rules, {"NOUN": {"mice": "mouse"}})
    rule_0_first = numpy.array([0.7, 0.3])
    assert lemmatizer.lemma("dogs", "NOUN", rule_0_first) == "dog"  # rule 0 cannot apply
    assert lemmatizer.lemma("was", "AUX", rule_0_first) == "be"
    assert lemmatizer.lemma("cat", "NOUN", rule_0_first) == "cat"  # none applies: the form
    assert lemmatizer.lemma("mice", "NOUN", numpy.array([0.0, 1.0])) == "mouse"  # the lookup decides
    assert lemmatizer.lemma("mice", "VERB", numpy.array([0.0, 1.0])) == "mice"  # not for another tag


# Rules for -ing forms: strip "ing" (0), strip "ing" and add "e" (1), the form
# itself (2).
ING_RULES = [LemmaRule("lower", "", "", "ing", ""), LemmaRule("lower", "", "", "ing", "e"),
             LemmaRule("form", "", "", "", "")]


def test_a_rule_that_makes_a_known_lemma_wins_over_one_that_does_not():
    lemmatizer = Lemmatizer(ING_RULES, {}, build_lexicon(["pledge", "walk"]))
    assert lemmatizer.lemma("pledging", "VERB", numpy.array([0.9, 0.09, 0.01])) == "pledge"
    assert lemmatizer.lemma("PLEDGING", "VERB", numpy.array([0.9, 0.09, 0.01])) == "pledge"
    # The winner may strip nothing: "News" is no plural of "new" here.
    news = Lemmatizer([LemmaRule("lower", "", "", "s", ""), LemmaRule("lower", "", "", "", "")], {},
                      build_lexicon(["news"]))
    assert news.lemma("News", "NOUN", numpy.array([0.8, 0.2])) == "news"
    # Where the best rule's lemma is known, or neither is, the best rule.
    assert lemmatizer.lemma("walking", "VERB", numpy.array([0.9, 0.09, 0.01])) == "walk"
    assert lemmatizer.lemma("hoping", "VERB", numpy.array([0.9, 0.09, 0.01])) == "hop"
    # Below the share of the best rule's probability, the best rule.
    assert lemmatizer.lemma("pledging", "VERB", numpy.array([0.991, 0.009, 0.0])) == "pledg"
    # Case is the rules' business: "Kim" is known though only "kim" was seen.
    cased = Lemmatizer([LemmaRule("form", "", "", "", ""), LemmaRule("lower", "", "", "", "")], {},
                       build_lexicon(["kim"]))
    assert cased.lemma("Kim", "PROPN", numpy.array([0.9, 0.1])) == "Kim"
    # A share of 0 turns the preference off.
    off = Lemmatizer(ING_RULES, {}, build_lexicon(["pledge"]), known_share=0.0)
    assert off.lemma("pledging", "VERB", numpy.array([0.9, 0.09, 0.01])) == "pledg"


def test_lemma_ids_prefer_known_lemmas_per_row_and_cache_only_known_ones():
    lemmatizer = Lemmatizer(ING_RULES, {}, build_lexicon(["pledge", "walk"]))
    strings = StringStore()
    forms = ["pledging", "pledging", "walking", "pledging"]
    scores = numpy.array([
        [0.9, 0.09, 0.01],  # "pledg" is unknown, "pledge" has a tenth of its probability
        [0.995, 0.004, 0.001],  # "pledge" has less than a hundredth: "pledg"
        [0.9, 0.09, 0.01],  # "walk" is known
        [0.9, 0.09, 0.01],  # as the first row: never row two's answer from a cache
    ])
    for _ in range(2):  # the second time from the caches
        ids = lemmatizer.lemma_ids([strings.add(f) for f in forms], ["VERB"] * 4, lambda rows: scores[rows], strings)
        assert [strings[i] for i in ids] == ["pledge", "pledg", "walk", "pledge"]


def test_threads_sharing_a_pipeline_get_the_single_thread_lemmas():
    """The lemma caches filled by threads at once, unknown lemmas included."""
    nlp, _ = trained(updates=20)
    tagger = nlp.get_pipe("lstm_tagger")
    words = ["The", "dogs", "were", "chasing", "zebras", "and", "Cats", "walked", "sleepily", "."]
    sentences = [" ".join(words[i % 6 : i % 6 + 2 + i % 4]) for i in range(40)]

    def tag_all(_=None):
        return [[(t.lemma_, str(t.morph), t._.morph_prob) for t in doc] for doc in nlp.pipe(sentences, batch_size=4)]

    expected = tag_all()
    cfg = tagger.cfg
    tagger.lemmatizer = Lemmatizer(
        checked_rules(cfg["lemma_rules"]), cfg["lemma_lookup"], cfg["lemma_lexicon"], tagger.known_lemma_share,
        cfg["lemma_seen_once"],
    )  # empty caches, for the threads to fill together
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(tag_all, range(16)))
    assert all(result == expected for result in results)
    assert not all(known for _, known in tagger.lemmatizer._best.values())  # some made unknown lemmas
    assert any(tagger.lemmatizer._once.values())  # and pairs seen once were looked up


# Rules: the lowercased form (0), the form as written (1), strip "s" (2).
NAME_RULES = [LemmaRule("lower", "", "", "", ""), LemmaRule("form", "", "", "", ""), LemmaRule("lower", "", "", "s", "")]
SEEN_ONCE = {"PROPN": {"Hùng": "Hùng"}, "NOUN": {"geese": "goose"}}


def test_a_lemma_seen_once_wins_where_its_rule_is_likely_or_missing():
    lemmatizer = Lemmatizer(NAME_RULES, {}, seen_once=SEEN_ONCE)
    # Its rule (the form as written) has under a hundredth of the best's: the rules.
    assert lemmatizer.lemma("Hùng", "PROPN", numpy.array([0.995, 0.004, 0.001])) == "hùng"
    # A tenth of the best's: the lemma seen once.
    assert lemmatizer.lemma("Hùng", "PROPN", numpy.array([0.9, 0.09, 0.01])) == "Hùng"
    # No rule makes "goose" of "geese": the lemma seen once, however sure the rules are.
    assert lemmatizer.lemma("geese", "NOUN", numpy.array([0.0, 0.001, 0.999])) == "goose"
    # Only for the tag it was seen with ("s" cannot be stripped: the next rule).
    assert lemmatizer.lemma("geese", "VERB", numpy.array([0.0, 0.001, 0.999])) == "geese"
    # Asked again: the same, from the caches.
    assert lemmatizer.lemma("geese", "NOUN", numpy.array([0.0, 0.001, 0.999])) == "goose"
    assert lemmatizer.lemma("Hùng", "PROPN", numpy.array([0.995, 0.004, 0.001])) == "hùng"
    # A share of 0 turns it off.
    off = Lemmatizer(NAME_RULES, {}, known_share=0.0, seen_once=SEEN_ONCE)
    assert off.lemma("geese", "NOUN", numpy.array([0.0, 0.001, 0.999])) == "geese"


def test_lemma_ids_decide_pairs_seen_once_per_row():
    lemmatizer = Lemmatizer(NAME_RULES, {"NOUN": {"dogs": "dog"}}, seen_once=SEEN_ONCE)
    strings = StringStore()
    forms = ["Hùng", "geese", "Hùng", "dogs", "cats", "Hùng"]
    tags = ["PROPN", "NOUN", "PROPN", "NOUN", "NOUN", "NOUN"]
    scores = numpy.array([
        [0.9, 0.09, 0.01],  # its rule has a tenth of the best's: seen once
        [0.0, 0.001, 0.999],  # no rule makes it: seen once
        [0.995, 0.004, 0.001],  # under a hundredth: the best rule, lowercase
        [0.1, 0.1, 0.8],  # the lookup (seen twice)
        [0.1, 0.1, 0.8],  # in no table: the best rule
        [0.1, 0.8, 0.1],  # not seen with this tag: the best rule
    ])
    for _ in range(2):  # the second time from the caches
        ids = lemmatizer.lemma_ids([strings.add(f) for f in forms], tags, lambda rows: scores[rows], strings)
        assert [strings[i] for i in ids] == ["Hùng", "goose", "hùng", "dog", "cat", "Hùng"]


def test_lemmas_made_in_a_memory_zone_are_right_after_it():
    """spaCy frees the strings added in a memory zone when it ends: a cached
    hash of such a lemma would name no string in the next zone. Every path:
    the lookup, a pair seen once, a rule's known lemma, a rule's unknown
    lemma, the next rule, and (no lexicon) any rule's lemma."""
    rules = [LemmaRule("lower", "", "", "s", ""), LemmaRule("lower", "", "", "", "")]
    forms = ["mice", "geese", "dogs", "zebras", "ox", "cats"]
    tags = ["NOUN"] * len(forms)
    scores = numpy.array([[0.8, 0.2]] * len(forms))
    expected = ["mouse", "goose", "dog", "zebra", "ox", "cat"]
    for lexicon, share in ((["dog", "cat"], KNOWN_SHARE), ([], 0.0)):
        lemmatizer = Lemmatizer(rules, {"NOUN": {"mice": "mouse"}}, lexicon, share, {"NOUN": {"geese": "goose"}})
        strings = StringStore()
        for zone in range(3):
            with strings.memory_zone():
                orths = [strings.add(form) for form in forms]
                ids = lemmatizer.lemma_ids(orths, tags, lambda rows: scores[rows], strings)
                got = [strings[i] for i in ids]
            # Without the lexicon the lemma seen once is off (share 0).
            assert got == (expected if share else ["mouse", "geese", "dog", "zebra", "ox", "cat"])
        # The tables' lemmas stay; what rules made of the texts does not.
        assert "mouse" in strings and "zebra" not in strings and "dogs" not in strings


def test_pipeline_tags_in_memory_zones_as_without(tmp_path):
    nlp, _ = trained()
    nlp.to_disk(tmp_path / "nlp")
    # The toy model lemmatizes these as "zebra" and "rat": strings of no table.
    texts = ["Zebras chased the dog .", "Rats chased the dog .", "The cats were sleeping ."]
    for share in (0.01, 0.0):
        config = {"components": {"lstm_tagger": {"known_lemma_share": share}}}
        expected = [[(t.lemma_, str(t.morph)) for t in doc] for doc in spacy.load(tmp_path / "nlp", config=config).pipe(texts)]
        assert {"zebra", "rat"} <= {lemma for doc in expected for lemma, _ in doc}
        zoned = spacy.load(tmp_path / "nlp", config=config)
        for _ in range(2):
            with zoned.memory_zone():
                assert [[(t.lemma_, str(t.morph)) for t in doc] for doc in zoned.pipe(texts)] == expected
        assert [[(t.lemma_, str(t.morph)) for t in doc] for doc in zoned.pipe(texts)] == expected


def test_lemma_tables_split_the_pairs_seen_once_from_the_lookup(tmp_path):
    triples = [("dogs", "NOUN", "dog"), ("dogs", "NOUN", "dog"), ("mice", "NOUN", "mouse"),
               ("saw", "VERB", "see"), ("saw", "VERB", "saw"), ("saw", "NOUN", "saw")]
    assert build_lookup(triples, 1, max_count=1) == {"NOUN": {"mice": "mouse", "saw": "saw"}}
    nlp, _ = trained(updates=1)
    cfg = nlp.get_pipe("lstm_tagger").cfg
    assert cfg["lemma_lookup"] == {"PUNCT": {".": "."}}
    assert cfg["lemma_seen_once"] == {
        "DET": {"The": "the", "A": "a", "the": "the"},
        "NOUN": {"dogs": "dog", "cat": "cat", "Cats": "cat", "Dog": "dog"},
        "VERB": {"barked": "bark", "sleeping": "sleep", "chased": "chase"},
        "AUX": {"was": "be"},
    }
    # Saved with the model, and what the loaded component's lemmas come from.
    nlp.to_disk(tmp_path / "nlp")
    assert spacy.load(tmp_path / "nlp").get_pipe("lstm_tagger").lemmatizer.seen_once == cfg["lemma_seen_once"]


def test_lexicon_is_the_lowercased_lemmas_of_the_examples():
    nlp, _ = trained(updates=1)
    lemmas = {lemma.lower() for sentence in SENTENCES for *_, lemma in sentence}
    assert nlp.get_pipe("lstm_tagger").cfg["lemma_lexicon"] == sorted(lemmas)
    assert build_lexicon(["Kim", "kim", "Pledge", ""]) == ["kim", "pledge"]


def test_lemma_ids_take_the_best_rule_that_applies_per_row():
    """The batch path: the lookup first, then only the best rule unless it
    cannot apply; the caches never hand one row's fallback to another."""
    rules = [LemmaRule("lower", "", "", "was", "be"), LemmaRule("lower", "", "", "s", ""),
             LemmaRule("lower", "", "", "", "")]
    lemmatizer = Lemmatizer(rules, {"NOUN": {"mice": "mouse"}})
    strings = StringStore()
    forms = ["dogs", "was", "cat", "mice", "dogs", "cat", "mice"]
    tags = ["NOUN", "AUX", "NOUN", "NOUN", "NOUN", "NOUN", "VERB"]
    scores = numpy.array([
        [0.6, 0.3, 0.1],  # "was" rule first: cannot apply to "dogs", so "s" -> dog
        [0.6, 0.3, 0.1],  # was -> be
        [0.6, 0.3, 0.1],  # neither "was" nor "s": the third rule, unchanged
        [0.1, 0.1, 0.8],  # the lookup
        [0.6, 0.1, 0.3],  # as row one, but the identity rule comes second: "dogs"
        [0.7, 0.1, 0.2],  # "was" cannot apply, then the identity rule beats "s"
        [0.1, 0.8, 0.1],  # no lookup for VERB: "s" cannot apply, next the identity
    ])
    asked = []

    def rule_probs(table):
        def of_rows(rows):
            asked.append(rows.tolist())
            return table[rows]
        return of_rows

    ids = lemmatizer.lemma_ids([strings.add(f) for f in forms], tags, rule_probs(scores), strings)
    assert [strings[i] for i in ids] == ["dog", "be", "cat", "mouse", "dogs", "cat", "mice"]
    # The rules are scored for the rows that the lookup does not decide only.
    assert asked == [[0, 1, 2, 4, 5, 6]]
    # Again, from the cache, in another order: the same per row.
    ids = lemmatizer.lemma_ids([strings[f] for f in forms[::-1]], tags[::-1], rule_probs(scores[::-1]), strings)
    assert [strings[i] for i in ids] == ["mice", "cat", "dogs", "mouse", "cat", "be", "dog"]
    # Every row of a batch that the lookup decides: no rule scores at all.
    asked.clear()
    ids = lemmatizer.lemma_ids([strings["mice"]] * 2, ["NOUN"] * 2, rule_probs(scores[:2]), strings)
    assert [strings[i] for i in ids] == ["mouse", "mouse"] and asked == []


@given(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]), min_size=1, max_size=30), st.integers(1, 10))
def test_most_likely_is_a_stable_sorts_first_n(probs, n):
    """Ties (say probabilities that underflowed to 0) keep index order."""
    row = numpy.array(probs, dtype="float32")
    expected = sorted(range(len(probs)), key=lambda i: (-probs[i], i))[:n]
    assert most_likely(row, n).tolist() == expected


def test_rules_seen_fewer_times_than_min_count_are_no_labels():
    pairs = [("dogs", "dog")] * 3 + [("cats", "cat")] + [("mice", "mouse")] + [("geese", "goose")] * 2
    assert rules_seen(pairs, 2) == [make_rule("dogs", "dog"), make_rule("geese", "goose")]
    assert len(rules_seen(pairs, 1)) == 3
    assert rules_seen([("mice", "mouse")], 5) == [make_rule("mice", "mouse")]  # the most frequent stays


def test_lookup_keeps_only_unambiguous_pairs_seen_twice():
    triples = [("saw", "VERB", "see")] * 2 + [("saw", "NOUN", "saw")] * 3 + [("left", "VERB", "leave"),
               ("left", "VERB", "left"), ("left", "VERB", "leave"), ("ran", "VERB", "run")]
    assert build_lookup(triples, 2) == {"VERB": {"saw": "see"}, "NOUN": {"saw": "saw"}}


def test_annotate_leaves_other_attributes_untouched():
    nlp, _ = trained()
    tags_only = spacy.blank("en")
    tags_only.add_pipe("lstm_tagger", config={"annotate": ["tag"], "model": FAST})
    tags_only.from_bytes(nlp.to_bytes())
    words = [w for w, *_ in SENTENCES[0]]
    doc = Doc(tags_only.vocab, words=words, morphs=["Foo=Bar"] + ["_"] * 3, lemmas=["x", "", "", ""])
    doc = tags_only(doc)
    assert [t.tag_ for t in doc] == [t for _, t, _, _ in SENTENCES[0]]
    assert [str(t.morph) for t in doc] == ["Foo=Bar", "", "", ""]
    assert [t.lemma_ for t in doc] == ["x", "", "", ""]
    assert [t.pos_ for t in doc] == [""] * 4
    # With morph and lemma but overwrite = false, the values a token has stay.
    both = spacy.blank("en")
    both.add_pipe("lstm_tagger", config={"annotate": ["morph", "lemma"], "model": FAST})
    both.from_bytes(nlp.to_bytes())
    doc = both(Doc(both.vocab, words=words, lemmas=["x", "", "", ""]))
    assert [t.lemma_ for t in doc] == ["x", "dog", "bark", "."]
    assert [str(t.morph) or "_" for t in doc] == [f for _, _, f, _ in SENTENCES[0]]
    assert [t.tag_ for t in doc] == [""] * 4


def test_head_asked_for_without_gold_values_is_an_error():
    for feats, lemmas, missing in ((False, True, "morph"), (True, False, "lemma")):
        nlp = spacy.blank("en")
        nlp.add_pipe("lstm_tagger", config={"annotate": ALL, "model": FAST})
        examples = examples_of(nlp, feats=feats, lemmas=lemmas)
        with pytest.raises(ValueError, match=f"annotate has '{missing}', but no example has gold"):
            nlp.initialize(lambda: examples)


def test_annotate_asking_for_an_untrained_head_is_refused_at_load(tmp_path):
    nlp, _ = trained(annotate=["tag", "pos", "lemma"], updates=1)
    nlp.to_disk(tmp_path / "nlp")
    message = r"annotate asks for \['morph'\], but the model was trained without morph"
    with pytest.raises(ModelFileError, match=message):
        spacy.load(tmp_path / "nlp", config={"components": {"lstm_tagger": {"annotate": ALL}}})


def replace_entry(index, value):
    return lambda entries: entries.__setitem__(index, value)


@pytest.mark.parametrize("key, change, problem", [
    ("lemma_rules", replace_entry(0, ["lower", "", "", "s"]), "'lemma_rules' entry 0 is not a list of 5 strings"),
    ("lemma_rules", replace_entry(1, ["shout", "", "", "", ""]), "'lemma_rules' entry 1 has casing 'shout'"),
    ("lemma_rules", replace_entry(2, ["lower", "", "\x00", "", ""]), "'lemma_rules' entry 2 has control characters"),
    ("lemma_lookup", replace_entry("NOUN", {"dogs": 3}), "'lemma_lookup' entry 'NOUN' / 'dogs' is not a non-empty"),
    ("lemma_seen_once", replace_entry("NOUN", {"dogs": ""}),
     "'lemma_seen_once' entry 'NOUN' / 'dogs' is not a non-empty"),
    ("lemma_lexicon", replace_entry(0, "Dog"), "'lemma_lexicon' entry 0 is not a non-empty lowercase string"),
    ("lemma_lexicon", replace_entry(1, ""), "'lemma_lexicon' entry 1 is not a non-empty lowercase string"),
    ("morph_labels", replace_entry(0, "Case"), "'morph_labels' entry 0 is not a normalised FEATS string"),
    ("morph_labels", lambda labels: labels.append(labels[1]), "'morph_labels' has repeated labels"),
])
def test_damaged_tables_are_refused_naming_file_and_entry(tmp_path, key, change, problem):
    nlp, _ = trained(updates=1)
    nlp.to_disk(tmp_path / "nlp")
    cfg_file = tmp_path / "nlp" / "lstm_tagger" / "cfg"
    cfg = srsly.read_json(cfg_file)
    change(cfg[key])
    srsly.write_json(cfg_file, cfg)
    with pytest.raises(ModelFileError) as err:
        spacy.load(tmp_path / "nlp")
    assert str(cfg_file) in str(err.value) and problem in str(err.value)


def test_rules_of_another_length_than_the_weights_are_refused(tmp_path):
    nlp, _ = trained(updates=1)
    nlp.to_disk(tmp_path / "nlp")
    cfg_file = tmp_path / "nlp" / "lstm_tagger" / "cfg"
    cfg = srsly.read_json(cfg_file)
    cfg["lemma_rules"].append(["lower", "", "", "zz", ""])
    srsly.write_json(cfg_file, cfg)
    with pytest.raises(ModelFileError, match="the weights have heads of"):
        spacy.load(tmp_path / "nlp")


def test_checked_rules_takes_well_formed_rules():
    assert checked_rules([["form", "", "", "'s", ""]]) == [LemmaRule("form", "", "", "'s", "")]


def test_scores_are_spacys_keys_with_their_values():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("lstm_tagger", config={"annotate": ALL})
    gold = reference(nlp.vocab, SENTENCES[0])
    predicted = reference(nlp.vocab, SENTENCES[0])
    predicted[1].set_morph("Number=Sing")  # gold Number=Plur
    predicted[2].set_morph("Tense=Pres|VerbForm=Fin")  # gold Tense=Past
    predicted[2].lemma_ = "barked"
    scores = pipe.score([Example(predicted, gold)])
    assert scores["morph_acc"] == 0.5
    assert scores["lemma_acc"] == 0.75
    assert scores["tag_acc"] == scores["pos_acc"] == 1.0
    assert scores["morph_per_feat"]["Number"]["f"] == 0.0
    assert scores["morph_per_feat"]["VerbForm"]["f"] == 1.0
    assert scores["morph_per_feat"]["Tense"]["f"] == 0.0
    assert scores["morph_per_feat"]["Definite"]["f"] == 1.0
    weights = nlp.config["training"]["score_weights"]
    assert weights["morph_acc"] == 0.0 and weights["lemma_acc"] == 0.0 and weights["morph_per_feat"] is None


def test_per_feature_scores_of_gold_docs_with_a_vocab_of_their_own():
    """A predicted FEATS combination that the gold Docs' strings lack (the
    per-feature heads can make new ones) is scored, not a KeyError."""
    predicted = Doc(Vocab(), words=["dogs", "ran"], morphs=["Case=Nom|Number=Plur", "Tense=Past"])
    gold = Doc(Vocab(), words=["dogs", "ran"], morphs=["Case=Nom|Number=Sing", "Tense=Past"])
    scores = score_tagger([Example(predicted, gold)], attrs=("morph",))
    assert scores["morph_acc"] == 0.5
    assert {name: feat["f"] for name, feat in scores["morph_per_feat"].items()} == {
        "Case": 1.0, "Number": 0.0, "Tense": 1.0,
    }


def probs_by_hand(row, temperature):
    """softmax(log(p) / T) of one row of probabilities."""
    scaled = [math.log(max(p, 1e-45)) / temperature for p in row]
    exps = [math.exp(s - max(scaled)) for s in scaled]
    return [e / sum(exps) for e in exps]


@pytest.mark.parametrize("morph_mode", ["whole", "per_feature"])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_morph_prob_is_the_tempered_probability_of_the_predicted_feats(morph_mode, temperature):
    nlp, _ = trained(morph_mode=morph_mode, updates=15)
    tagger = nlp.get_pipe("lstm_tagger")
    tagger.cfg["morph_temperature"] = temperature
    docs = [Doc(nlp.vocab, words=[w for w, *_ in s]) for s in SENTENCES]
    probs = numpy.concatenate(tagger.predict(docs)).tolist()
    # With one head per feature, the FEATS string's probability is the product
    # of every head's probability of its label.
    expected = [1.0] * len(probs)
    for head in tagger.layout.of("morph"):
        for i, row in enumerate(probs):
            expected[i] *= max(probs_by_hand(row[head.columns], temperature))
    got = [t._.morph_prob for doc in nlp.pipe(docs) for t in doc]
    assert got == pytest.approx(expected, rel=1e-5)
    assert all(0 < p < 1 for p in got)


def test_no_morph_prob_where_the_component_writes_no_features():
    nlp, _ = trained(annotate=["tag", "pos", "lemma"], updates=5)
    assert [t._.morph_prob for t in nlp("The dogs barked .")] == [None] * 4


def test_training_fits_the_morph_temperature_on_dev():
    nlp, _ = trained(updates=40)
    tagger = nlp.get_pipe("lstm_tagger")
    # Dev swaps two gold values: the model is sure and wrong there, and tempers
    # morph_prob; its tags are right, and tag_prob gets a temperature of its own.
    swap = {"Number=Plur": "Number=Sing", "Number=Sing": "Number=Plur"}
    dev_sentences = [[(w, t, swap.get(f, f), lemma) for w, t, f, lemma in s] for s in SENTENCES]
    dev = examples_of(nlp, dev_sentences)
    fit_pipeline_temperatures(nlp, dev)
    probs = numpy.concatenate(tagger.predict([eg.predicted for eg in dev]))
    morph = tagger.layout["morph"]
    index = {label: i for i, label in enumerate(morph.labels)}
    gold = numpy.array([index[f] for s in dev_sentences for _, _, f, _ in s])
    fitted = fit_temperature(numpy.log(probs[:, morph.columns]), gold)
    assert tagger.cfg["morph_temperature"] == pytest.approx(fitted, rel=1e-6)
    assert tagger.cfg["morph_temperature"] > 1 > tagger.cfg["tag_temperature"]


def test_per_feature_heads_keep_morph_prob_untempered():
    nlp, examples = trained(morph_mode="per_feature", updates=20)
    fit_pipeline_temperatures(nlp, examples)
    assert nlp.get_pipe("lstm_tagger").cfg["morph_temperature"] == 1.0
