"""The lstm_tagger component: training, prediction, serialization, errors."""
import gc
import tracemalloc

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

import spacy_lstm_tagger  # noqa: F401  (registers the factory in this process)

from helpers import TOY_DATA as TRAIN_DATA  # the tutorial's training data
from helpers import TOY_TAGS as EXPECTED
from helpers import TOY_TEXTS as SENTENCES


def make_examples(nlp, data=TRAIN_DATA, pos=None):
    examples = []
    for i, (words, tags) in enumerate(data):
        reference = Doc(nlp.vocab, words=words, tags=tags, pos=pos[i] if pos else None)
        examples.append(Example(Doc(nlp.vocab, words=words), reference))
    return examples


def trained_nlp(n_updates=60, **config):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config=config)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(n_updates):
        losses = nlp.update(examples, sgd=optimizer)
    return nlp, losses


def tags(nlp, texts=SENTENCES):
    return [[t.tag_ for t in doc] for doc in nlp.pipe(texts)]


@pytest.fixture(scope="module")
def toy_nlp():
    nlp, losses = trained_nlp()
    assert losses["lstm_tagger"] < 0.02
    return nlp


def test_overfits_toy_corpus(toy_nlp):
    assert [[t.tag_ for t in toy_nlp(text)] for text in SENTENCES] == EXPECTED
    assert tags(toy_nlp) == EXPECTED


def test_labels(toy_nlp):
    tagger = toy_nlp.get_pipe("lstm_tagger")
    assert tagger.labels == ("DET", "NN", "V")
    assert tagger.label_data == ("DET", "NN", "V")


def test_disk_round_trip(toy_nlp, tmp_path):
    toy_nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert tags(loaded) == EXPECTED
    # Not just the argmax: the scores are identical.
    docs = [toy_nlp.make_doc(text) for text in SENTENCES]
    before = toy_nlp.get_pipe("lstm_tagger").predict(docs)
    after = loaded.get_pipe("lstm_tagger").predict(docs)
    for a, b in zip(before, after):
        assert (a == b).all()


def test_bytes_round_trip(toy_nlp):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger")
    nlp.from_bytes(toy_nlp.to_bytes())
    assert tags(nlp) == EXPECTED
    assert nlp.get_pipe("lstm_tagger").labels == ("DET", "NN", "V")


def test_pipe_equals_call_and_handles_empty_docs(toy_nlp):
    texts = ["", SENTENCES[0], "", SENTENCES[1], "dog"]
    piped = [[t.tag_ for t in doc] for doc in toy_nlp.pipe(texts, batch_size=2)]
    called = [[t.tag_ for t in toy_nlp(text)] for text in texts]
    assert piped == called
    assert piped[0] == [] and piped[1] == EXPECTED[0] and piped[3] == EXPECTED[1]
    assert len(piped[4]) == 1 and piped[4][0] in ("DET", "NN", "V")


def test_long_docs_are_tagged_in_segments(toy_nlp):
    words = ("The dog ate the apple . " * 120).split()  # 720 tokens: 3 segments
    doc = toy_nlp(Doc(toy_nlp.vocab, words=words))
    assert [t.tag_ for t in doc[:5]] == EXPECTED[0]
    assert all(t.tag_ in ("DET", "NN", "V") for t in doc)
    # Far from a segment boundary, a token is tagged as it is in a short Doc.
    assert [t.tag_ for t in doc[300:305]] == EXPECTED[0]


def test_scores_do_not_depend_on_the_rest_of_the_batch(toy_nlp):
    tagger = toy_nlp.get_pipe("lstm_tagger")
    doc = toy_nlp.make_doc("Zyxx qwerty dog")
    alone = tagger.predict([doc])[0]
    neighbours = [toy_nlp.make_doc("a" * 19 + " " + "word " * 40), toy_nlp.make_doc("x")]
    together = tagger.predict(neighbours + [doc])[2]
    numpy.testing.assert_allclose(alone, together, atol=1e-5)


def test_unknown_words_get_a_known_tag(toy_nlp):
    doc = toy_nlp("Zyxx qwerty 😀 \u0000 東京")
    assert all(t.tag_ in ("DET", "NN", "V") for t in doc)


def test_score_reports_tag_acc(toy_nlp):
    scores = toy_nlp.evaluate(make_examples(toy_nlp))
    assert scores["tag_acc"] == 1.0


def test_overwrite_false_keeps_existing_tags(toy_nlp):
    doc = Doc(toy_nlp.vocab, words="The dog ate the apple".split(), tags=["X", "", "", "", ""])
    doc = toy_nlp.get_pipe("lstm_tagger")(doc)
    assert [t.tag_ for t in doc] == ["X", "NN", "V", "DET", "NN"]


def test_upos_head():
    pos = [["DET", "NOUN", "VERB", "DET", "NOUN"], ["PRON", "VERB", "DET", "NOUN"]]
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"predict_pos": True})
    examples = make_examples(nlp, pos=pos)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    docs = list(nlp.pipe(SENTENCES))
    assert [[t.tag_ for t in d] for d in docs] == EXPECTED
    assert [[t.pos_ for t in d] for d in docs] == pos
    assert nlp.evaluate(examples)["pos_acc"] == 1.0
    # overwrite = false keeps a UPOS label the Doc already has, though it has no tags.
    words = SENTENCES[0].split()
    doc = Doc(nlp.vocab, words=words, pos=["X"] + [""] * (len(words) - 1))
    doc = nlp.get_pipe("lstm_tagger")(doc)
    assert [t.pos_ for t in doc] == ["X"] + pos[0][1:]
    assert [t.tag_ for t in doc] == EXPECTED[0]
    loaded = spacy.blank("en")
    loaded.add_pipe("lstm_tagger", config={"predict_pos": True})
    loaded.from_bytes(nlp.to_bytes())
    assert [[t.pos_ for t in loaded(s)] for s in SENTENCES] == pos
    # predict_pos given at loading applies: the UPOS head is there but unused.
    tags_only = spacy.blank("en")
    tags_only.add_pipe("lstm_tagger", config={"predict_pos": False})
    tags_only.from_bytes(nlp.to_bytes())
    assert tags(tags_only) == EXPECTED
    assert [[t.pos_ for t in tags_only(s)] for s in SENTENCES] == [[""] * len(p) for p in pos]
    assert "pos_acc" not in tags_only.evaluate(examples)


def test_missing_gold_tags_are_ignored():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger")
    partial = TRAIN_DATA + [("The cat".split(), ["", ""])]
    examples = make_examples(nlp, data=partial)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(60):
        losses = nlp.update(examples, sgd=optimizer)
    assert losses["lstm_tagger"] < 0.02
    assert tags(nlp) == EXPECTED


def test_uninitialized_component_raises():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger")
    with pytest.raises(ValueError, match="not initialized"):
        nlp("The dog ate the apple")


def test_unknown_gold_label_raises(toy_nlp):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger")
    optimizer = nlp.initialize(lambda: make_examples(nlp))
    bad = make_examples(nlp, data=[("The cat".split(), ["DET", "NNS"])])
    with pytest.raises(ValueError, match="'NNS'.*not among the 3 labels"):
        nlp.update(bad, sgd=optimizer)


def test_add_label_after_initialize_raises(toy_nlp):
    with pytest.raises(ValueError, match="already initialized"):
        toy_nlp.get_pipe("lstm_tagger").add_label("JJ")


@pytest.mark.parametrize(
    "data", [[([], [])], [("The cat".split(), ["", ""])]], ids=["empty-doc", "no-gold-tags"]
)
def test_initialize_without_any_label_raises(data):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger")
    with pytest.raises(ValueError, match=r"\[lstm_tagger\] cannot initialize: no labels"):
        nlp.initialize(lambda: make_examples(nlp, data=data))


# Labels that would break a tab-separated CoNLL-U line, or change when read back.
BAD_LABELS = [
    ("NN\t", "contains the control character U+0009"),
    ("N\nN", "contains the control character U+000A"),
    ("NN\x00", "contains the control character U+0000"),
    ("N\u2028N", "contains the line separator U+2028"),
    (" NN", "starts or ends with whitespace"),
    ("NN ", "starts or ends with whitespace"),
]


@pytest.mark.parametrize("label, problem", BAD_LABELS)
def test_a_label_that_breaks_conllu_is_refused_at_initialize(label, problem):
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("lstm_tagger")
    data = [("The dog ate".split(), ["DET", label, "V"])]
    with pytest.raises(ValueError) as err:
        nlp.initialize(lambda: make_examples(nlp, data=data))
    assert str(err.value) == (
        f"[lstm_tagger] cannot initialize: the gold tag {label!r} of token 1 of example "
        f"'The dog ate ' {problem}"
    )
    negated = [("The dog ate".split(), ["DET", "!" + label, "V"])]
    with pytest.raises(ValueError, match="cannot initialize: the gold tag '!"):
        nlp.initialize(lambda: make_examples(nlp, data=negated))
    with pytest.raises(ValueError) as err:
        tagger.initialize(lambda: make_examples(nlp), labels=["DET", label])
    assert str(err.value) == (
        f"[lstm_tagger] cannot initialize: the tag label {label!r} given to initialize (labels) {problem}"
    )
    with pytest.raises(ValueError) as err:
        tagger.add_label(label)
    assert str(err.value) == f"[lstm_tagger] cannot add the label {label!r}: it {problem}"
    assert tagger.labels == () and not tagger.model.is_ready


def test_initialize_without_any_example_says_so():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger")
    with pytest.raises(ValueError) as err:
        nlp.initialize(lambda: iter(()))  # what spaCy's corpus reader gives when it found no file
    assert str(err.value) == (
        "[lstm_tagger] cannot initialize: no training examples were found at all, "
        "and no labels were added with add_label"
    )


def test_initialize_with_given_labels():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("lstm_tagger")
    tagger.initialize(lambda: make_examples(nlp), labels=["V", "NN", "DET", "JJ"])
    assert tagger.labels == ("V", "NN", "DET", "JJ")


def test_optimizer_averages_are_swapped_in_and_restored():
    # spacy train evaluates and saves under nlp.use_params(optimizer.averages).
    fix_random_seed(0)
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("lstm_tagger")
    examples = make_examples(nlp)
    optimizer = Adam(0.001, use_averages=True)
    nlp.initialize(lambda: examples, sgd=optimizer)
    for _ in range(10):
        nlp.update(examples, sgd=optimizer)
    docs = [nlp.make_doc(text) for text in SENTENCES]
    before = tagger.predict(docs)[0]
    with nlp.use_params(optimizer.averages):
        averaged = tagger.predict(docs)[0]
    after = tagger.predict(docs)[0]
    assert (before == after).all()
    assert not (before == averaged).all()


def test_updates_do_not_keep_memory():
    # thinc's PyTorchShim gave each parameter, at every update, a new tensor
    # made from a view of the old one: a chain that grew by some 6 KB a step.
    nlp, _ = trained_nlp(n_updates=5)
    optimizer = nlp.resume_training()
    examples = make_examples(nlp)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(50):
            nlp.update(examples, sgd=optimizer)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 50_000, f"{grown:,} bytes kept by 50 updates"
