"""lstm_tagger in place of spaCy's `tagger`: the habits of spaCy's tagger that
scripts and configs rely on keep working (where spaCy's tagger is a parameter,
the same test shows what it does)."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from helpers import SMALL_MODEL, TOY_LABELS, TOY_TAGS, TOY_TEXTS, tags_of, toy_examples


def train(nlp, examples, n_updates, learn_rate=0.01):
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(learn_rate))
    for _ in range(n_updates):
        losses = nlp.update(examples, sgd=optimizer)
    return losses


def small_nlp(**config):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": SMALL_MODEL, **config})
    return nlp


def all_scores(nlp, texts=TOY_TEXTS):
    return nlp.get_pipe("lstm_tagger").predict([nlp.make_doc(text) for text in texts])


def with_added_labels(factory):
    """A blank pipeline with one `factory` component that knows TOY_LABELS."""
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe(factory)
    for label in TOY_LABELS:
        tagger.add_label(label)
    return nlp, tagger


@pytest.mark.parametrize("factory", ["tagger", "lstm_tagger"])
def test_initialize_from_added_labels_alone(factory):
    nlp, tagger = with_added_labels(factory)
    nlp.initialize()
    assert tagger.labels == TOY_LABELS
    # Untrained, from characters and the unknown word, but it tags.
    doc = nlp("Zebras dance happily")
    assert [t.tag_ in TOY_LABELS for t in doc] == [True] * 3


@pytest.mark.parametrize("factory", ["tagger", "lstm_tagger"])
def test_training_on_examples_without_any_tags(factory):
    nlp, tagger = with_added_labels(factory)
    examples = [
        Example.from_dict(nlp.make_doc(""), {}),
        Example.from_dict(nlp.make_doc("Some words here"), {"tags": []}),
        Example(nlp.make_doc("More words"), Doc(nlp.vocab, words=["More", "words"])),
    ]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(2):
        losses = nlp.update(examples, sgd=optimizer)
    assert losses[factory] == 0.0
    assert tagger.labels == TOY_LABELS


def test_initialize_again_builds_a_fresh_model():
    nlp = small_nlp()
    tagger = nlp.get_pipe("lstm_tagger")
    train(nlp, toy_examples(nlp), 30)
    first = tagger.model
    new_data = [("Big dogs bark".split(), "JJ NNS VBP".split())]
    examples = [Example(Doc(nlp.vocab, words=w), Doc(nlp.vocab, words=w, tags=t)) for w, t in new_data]
    losses = train(nlp, examples, 30)
    assert tagger.labels == ("JJ", "NNS", "VBP") and tagger.model is not first
    assert losses["lstm_tagger"] < 0.01
    assert tags_of([nlp("Big dogs bark")]) == [["JJ", "NNS", "VBP"]]
    # Without tagged examples the labels stay, in a fresh model again.
    nlp.initialize()
    assert tagger.labels == ("JJ", "NNS", "VBP") and tagger.model.shape.n_tags == 3


def test_partial_and_misaligned_annotation_trains_on_what_aligns():
    nlp = small_nlp()
    words = TOY_TEXTS[0].split()
    partial = Example(
        Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=["DET", "", "V", "", "NN"])
    )
    # The gold splits "Everybody" in two: that token cannot be aligned.
    split = ["Every", "body", "read", "that", "book"]
    misaligned = Example(
        nlp.make_doc(TOY_TEXTS[1]),
        Doc(nlp.vocab, words=split, spaces=[False, True, True, True, False], tags=["NN", "NN", "V", "DET", "NN"]),
    )
    losses = train(nlp, [partial, misaligned], 40)
    assert losses["lstm_tagger"] < 0.01
    first, second = tags_of(nlp.pipe(TOY_TEXTS))
    assert [first[0], first[2], first[4]] == ["DET", "V", "NN"]
    assert second[1:] == ["V", "DET", "NN"]


def test_toy_overfit_with_spacys_default_optimizer(tmp_path):
    """As spaCy's own tagger test: the default model (dropout included) and the
    default optimizer (Adam, learn rate 0.001), 50 updates tag the toy corpus
    exactly (spaCy's loss of sums of squares is still near 0.05 then)."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger")
    examples = toy_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(50):
        losses = nlp.update(examples, sgd=optimizer)
    assert losses["lstm_tagger"] < 0.1
    assert tags_of(nlp.pipe(TOY_TEXTS)) == TOY_TAGS
    nlp.to_disk(tmp_path / "pipeline")
    from_disk = spacy.load(tmp_path / "pipeline")
    from_bytes = spacy.blank("en")
    from_bytes.add_pipe("lstm_tagger")
    from_bytes.from_bytes(nlp.to_bytes())
    for loaded in (from_disk, from_bytes):
        assert tags_of(loaded.pipe(TOY_TEXTS)) == TOY_TAGS
        assert all((a == b).all() for a, b in zip(all_scores(loaded), all_scores(nlp)))


def test_label_smoothing_keeps_probabilities_from_one():
    probabilities = {}
    for smoothing in (0.0, 0.3):
        nlp = small_nlp(label_smoothing=smoothing)
        train(nlp, toy_examples(nlp), 60)
        docs = list(nlp.pipe(TOY_TEXTS))
        assert tags_of(docs) == TOY_TAGS
        probabilities[smoothing] = [t._.tag_prob for doc in docs for t in doc]
    # The smoothed target gives the gold tag 0.7 and 0.15 to each other tag.
    assert min(probabilities[0.0]) > 0.95
    assert all(0.6 < p < 0.8 for p in probabilities[0.3]), probabilities[0.3]


def test_negative_annotation():
    nlp = small_nlp()
    data = [(words.split(), tags) for words, tags in zip(TOY_TEXTS, TOY_TAGS)]
    examples = [Example(Doc(nlp.vocab, words=w), Doc(nlp.vocab, words=w, tags=t)) for w, t in data]
    # "cat" is not a NN (whatever it is): the only thing known about it.
    words = ["The", "cat"]
    examples.append(Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=["DET", "!NN"])))
    train(nlp, examples, 60)
    tagger = nlp.get_pipe("lstm_tagger")
    assert tagger.labels == TOY_LABELS  # "!NN" names NN, no label of its own
    cat = nlp("The cat")[1]
    assert cat.tag_ != "NN"
    assert tags_of(nlp.pipe(TOY_TEXTS)) == TOY_TAGS
    unknown = [Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=["DET", "!JJ"]))]
    with pytest.raises(ValueError, match=r"gold tag label '!JJ' .* not among the 3 labels"):
        nlp.update(unknown)


def test_scorer_and_score_weights(toy_pipeline):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger")
    assert nlp.config["components"]["lstm_tagger"]["scorer"] == {
        "@scorers": "spacy_lstm_tagger.tagger_scorer.v1"
    }
    assert nlp.config["training"]["score_weights"] == {
        "tag_acc": 1.0, "pos_acc": 0.0, "morph_acc": 0.0, "morph_per_feat": None, "lemma_acc": 0.0,
    }

    @spacy.registry.scorers("test_drop_in.half_scorer.v1")
    def make_half_scorer():
        return lambda examples, **kwargs: {"tag_acc": 0.5}

    gold = [Example.from_dict(Doc(nlp.vocab, words=t.split()), {"tags": tags})
            for t, tags in zip(TOY_TEXTS, TOY_TAGS)]
    for scorer, tag_acc in [("test_drop_in.half_scorer.v1", 0.5), ("spacy.tagger_scorer.v1", 1.0)]:
        config = {"components": {"lstm_tagger": {"scorer": {"@scorers": scorer}}}}
        assert spacy.load(toy_pipeline, config=config).evaluate(gold)["tag_acc"] == tag_acc


def test_settings_given_at_load_are_applied(toy_pipeline, tmp_path):
    words = TOY_TEXTS[0].split()
    for overwrite, expected in [(False, ["X"] * 5), (True, TOY_TAGS[0])]:
        config = {"components": {"lstm_tagger": {"overwrite": overwrite}}}
        nlp = spacy.load(toy_pipeline, config=config)
        doc = nlp.get_pipe("lstm_tagger")(Doc(nlp.vocab, words=words, tags=["X"] * 5))
        assert [t.tag_ for t in doc] == expected
    settings = {
        "top_k": 2,
        "label_smoothing": 0.1,
        "model": {"dropout": 0.5, "word_dropout": 0.4, "max_sequence": 3, "group_size": 2, "max_word_chars": 5},
    }
    nlp = spacy.load(toy_pipeline, config={"components": {"lstm_tagger": settings}})
    nlp.to_disk(tmp_path / "again")  # config.cfg keeps them
    for loaded in (nlp, spacy.load(tmp_path / "again")):
        tagger = loaded.get_pipe("lstm_tagger")
        assert (tagger.top_k, tagger.label_smoothing) == (2, 0.1)
        assert (tagger.model.network.dropout, tagger.model.network.word_dropout) == (0.5, 0.4)
        assert tagger.model.settings.max_sequence == 3 and tagger.model.settings.group_size == 2
        assert tagger.model.settings.max_word_chars == 5
        assert all(len(t._.tag_top_k) == 2 for t in loaded(TOY_TEXTS[0]))


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_threads_sharing_a_pipeline_get_the_single_thread_result(engine):
    if engine != "torch":
        pytest.importorskip("onnxruntime")
    # Dropout that would change every score if it were on during prediction.
    nlp = small_nlp(model={**SMALL_MODEL, "dropout": 0.5, "word_dropout": 0.5, "engine": engine})
    train(nlp, toy_examples(nlp), 5)
    texts = [" ".join(TOY_TEXTS[i % 2].split()[: 2 + i % 4]) for i in range(40)]

    def tag_all(_=None):
        return [[(t.tag_, t._.tag_prob) for t in doc] for doc in nlp.pipe(texts, batch_size=4)]

    expected = tag_all()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(tag_all, range(24)))
    assert all(result == expected for result in results)
