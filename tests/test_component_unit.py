"""The lstm_tagger component without a trained pipeline: a tiny model built on
hand-written Docs (untrained or a few steps), its settings checks with their
exact messages, labels, what each `annotate` choice writes and never touches,
the loss against one written out here, and loading that refuses bad files."""
import numpy
import pytest
import spacy
import srsly
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Adam, Linear

from spacy_lstm_tagger.pipeline.component import LSTMTagger, find_lstm_tagger, make_lstm_tagger
from spacy_lstm_tagger.pipeline.model import ModelFileError

TINY = {"word_width": 8, "char_width": 4, "char_features": 4, "hidden_width": 8, "dropout": 0.0, "word_dropout": 0.0}
# word, tag (UPOS, so that pos_from_tag can use them), morph, lemma
ROWS = [
    [("The", "DET", "Definite=Def", "the"), ("dogs", "NOUN", "Number=Plur", "dog"), ("ran", "VERB", "Tense=Past", "run")],
    [("A", "DET", "Definite=Ind", "a"), ("cat", "NOUN", "Number=Sing", "cat"), ("sat", "VERB", "Tense=Past", "sit")],
]


def gold_doc(vocab, row, pos=True, morph=True, lemma=True):
    return Doc(
        vocab, words=[r[0] for r in row], tags=[r[1] for r in row],
        pos=[r[1] for r in row] if pos else None, morphs=[r[2] for r in row] if morph else None,
        lemmas=[r[3] for r in row] if lemma else None,
    )


def examples(nlp, **gold):
    return [Example(Doc(nlp.vocab, words=[r[0] for r in row]), gold_doc(nlp.vocab, row, **gold)) for row in ROWS]


def tagger(name="lstm_tagger", **config):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("lstm_tagger", name=name, config={"model": TINY, **config})
    return nlp, component


def initialized(**config):
    nlp, component = tagger(**config)
    nlp.initialize(lambda: examples(nlp))
    return nlp, component


def plain(nlp, row, **attrs):
    """A Doc of the row's words, with the attributes given already set."""
    return Doc(nlp.vocab, words=[r[0] for r in row], **attrs)


def test_factory_passes_every_setting_and_defaults_agree():
    settings = {
        "overwrite": True, "annotate": ["tag", "lemma"], "morph_mode": "per_feature", "lemma_min_count": 3,
        "known_lemma_share": 0.05, "predict_pos": True, "pos_from_tag": False, "top_k": 2, "label_smoothing": 0.1,
        "teacher_weight": 0.25, "neg_prefix": "~",
    }
    _, component = tagger(name="mine", **settings)
    assert component.name == "mine"
    assert {key: getattr(component, key) for key in settings} == dict(settings, annotate=("tag", "lemma"))
    assert component.heads == ("tag", "pos", "lemma")
    # the class's defaults are the factory's
    nlp, from_factory = tagger()
    direct = LSTMTagger(nlp.vocab, from_factory.model)
    keys = list(settings) + ["name"]
    assert {key: getattr(direct, key) for key in keys} == {key: getattr(from_factory, key) for key in keys}
    assert direct.annotate == ("tag",) and direct.overwrite is False and direct.top_k == 0
    assert direct.lemma_min_count == 2 and direct.neg_prefix == "!" and direct.teacher_weight == 0.5
    assert direct.known_lemma_share == 0.01
    assert direct.scorer is from_factory.scorer
    assert direct.cfg == from_factory.cfg and direct.cfg is not from_factory.cfg
    assert make_lstm_tagger.__name__ == "make_lstm_tagger"


def test_bad_settings_are_refused_all_at_once():
    nlp, good = tagger()
    with pytest.raises(ValueError) as error:
        LSTMTagger(
            nlp.vocab, good.model, "t", annotate=["tag", "bogus"], morph_mode="x", top_k=-1, lemma_min_count=0,
            known_lemma_share=float("nan"), label_smoothing=1.0, teacher_weight=-0.5, neg_prefix=3, predict_pos=True,
            pos_from_tag=True,
        )
    assert str(error.value) == (
        "[t] invalid settings: annotate=['tag', 'bogus'] is not a list of distinct attributes of tag, pos, "
        "morph, lemma; morph_mode='x' is not one of whole, per_feature; top_k must be a whole number >= 0, "
        "got -1; lemma_min_count=0 is not >= 1; known_lemma_share=nan is not a rate from 0 up to 1; "
        "label_smoothing=1.0 is not a rate from 0 up to 1; "
        "teacher_weight=-0.5 is not a rate from 0 up to 1; neg_prefix=3 is not a string; pos_from_tag "
        "writes token.pos_ from the tags: it cannot go with a UPOS head (predict_pos, or 'pos' in annotate)"
    )
    for top_k in (True, 1.5, "2"):
        with pytest.raises(ValueError) as error:
            LSTMTagger(nlp.vocab, good.model, top_k=top_k)
        assert str(error.value) == f"[lstm_tagger] invalid settings: top_k must be a whole number >= 0, got {top_k!r}"
    with pytest.raises(ValueError) as error:
        LSTMTagger(nlp.vocab, good.model, annotate=["tag", "pos"], pos_from_tag=True)
    assert "pos_from_tag writes token.pos_ from the tags" in str(error.value)
    with pytest.raises(ValueError) as error:
        LSTMTagger(nlp.vocab, Linear(2, 2), "t")
    assert str(error.value) == "[t] the model must be a spacy_lstm_tagger.LSTMTagger.v1"
    # the edges that are allowed
    LSTMTagger(nlp.vocab, good.model, top_k=0, lemma_min_count=1, known_lemma_share=0.0, label_smoothing=0.0,
               neg_prefix="")
    LSTMTagger(nlp.vocab, good.model, pos_from_tag=True)


def test_labels_added_before_initialize_only():
    nlp, component = tagger(predict_pos=True)
    assert component.add_label("NN") == 1 and component.add_label("NN") == 0
    assert component.add_label("VB") == 1
    assert component.labels == ("NN", "VB") and "VB" in nlp.vocab.strings
    assert component.add_pos_label("NOUN") == 1 and component.add_pos_label("NOUN") == 0
    assert component.pos_labels == ("NOUN",)
    assert [h.name for h in component.layout] == ["tag", "pos"]  # the new labels counted
    assert [len(h.labels) for h in component.layout] == [2, 1]
    for bad, why in (("", "labels must be non-empty strings, got ''"), (5, "labels must be non-empty strings, got 5"),
                     ("a\tb", "cannot add the label 'a\\tb': it contains the control character U+0009"),
                     (" NN", "cannot add the label ' NN': it starts or ends with whitespace")):
        with pytest.raises(ValueError) as error:
            component.add_label(bad)
        assert str(error.value) == f"[lstm_tagger] {why}"
    with pytest.raises(ValueError) as error:
        component.add_pos_label("NN")
    assert str(error.value) == "[lstm_tagger] 'NN' is not a UPOS label"
    nlp.initialize(lambda: examples(nlp))
    # the labels added, then those seen
    assert component.labels == ("NN", "VB", "DET", "NOUN", "VERB")
    assert component.pos_labels == ("NOUN", "DET", "VERB")
    assert component.add_label("NN") == 0
    with pytest.raises(ValueError) as error:
        component.add_label("JJ")
    assert str(error.value) == (
        "[lstm_tagger] cannot add label 'JJ': the component is already initialized and its output "
        "layer has a fixed size"
    )
    assert component.labels == ("NN", "VB", "DET", "NOUN", "VERB")
    assert component.label_data == {"tag": list(component.labels), "pos": ["NOUN", "DET", "VERB"]}
    assert find_lstm_tagger(nlp) is component


def test_find_lstm_tagger_and_uninitialized_use():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    with pytest.raises(ValueError) as error:
        find_lstm_tagger(nlp)
    assert str(error.value) == "the pipeline has no lstm_tagger component (it has ['sentencizer'])"
    second = nlp.add_pipe("lstm_tagger", name="second", config={"model": TINY})
    nlp.add_pipe("lstm_tagger", name="third", config={"model": TINY})
    assert find_lstm_tagger(nlp) is second
    message = (
        "[second] the component is not initialized: call nlp.initialize() (with training examples, or "
        "after add_label) or load a trained pipeline before using it"
    )
    doc = plain(nlp, ROWS[0])
    for use in (lambda: second(doc), lambda: list(second.pipe([doc])), lambda: second.predict([doc]),
                lambda: second.update(examples(nlp))):
        with pytest.raises(ValueError) as error:
            use()
        assert str(error.value) == message


def test_initialize_refusals_name_the_problem():
    nlp, component = tagger()
    with pytest.raises(ValueError) as error:
        nlp.initialize(lambda: iter(()))
    assert str(error.value) == (
        "[lstm_tagger] cannot initialize: no training examples were found at all, and no labels were added "
        "with add_label"
    )
    nlp.config["paths"]["train"] = "corpus/train.conllu"
    with pytest.raises(ValueError) as error:
        component.initialize(lambda: iter(()), nlp=nlp)
    assert str(error.value) == (
        "[lstm_tagger] cannot initialize: no training examples were found at all (the config's paths.train "
        "is corpus/train.conllu; spaCy's corpus reader reads .spacy files only: convert it with `python -m "
        "spacy_lstm_tagger convert`), and no labels were added with add_label"
    )
    nlp.config["paths"]["train"] = "corpus/train.spacy"
    with pytest.raises(ValueError) as error:
        component.initialize(lambda: iter(()), nlp=nlp)
    assert "(the config's paths.train is corpus/train.spacy), and no labels" in str(error.value)
    untagged = [Example(Doc(nlp.vocab, words=["a"]), Doc(nlp.vocab, words=["a"]))]
    with pytest.raises(ValueError) as error:
        component.initialize(lambda: untagged)
    assert str(error.value) == (
        "[lstm_tagger] cannot initialize: no labels: no example has a gold token.tag_ and none were added "
        "with add_label"
    )
    _, with_pos = tagger(annotate=["tag", "pos"])
    with pytest.raises(ValueError) as error:
        with_pos.initialize(lambda: examples(nlp, pos=False))
    assert str(error.value) == (
        "[lstm_tagger] cannot initialize: predict_pos is set (or annotate has 'pos'), but no example has a "
        "gold token.pos_ and no UPOS label was added"
    )
    with pytest.raises(ValueError) as error:
        component.initialize(lambda: examples(nlp), labels=["DET", "a\nb"])
    assert str(error.value) == (
        "[lstm_tagger] cannot initialize: the tag label 'a\\nb' given to initialize (labels) contains the "
        "control character U+000A"
    )
    assert not component.model.is_ready
    # labels given: used as they are, whatever the examples have
    component.initialize(lambda: examples(nlp), labels=["X", "DET"])
    assert component.labels == ("X", "DET") and component.model.shape.n_tags == 2
    # initialize again: a fresh model with the labels seen in the new examples
    component.initialize(lambda: examples(nlp))
    assert component.labels == ("DET", "NOUN", "VERB") and component.model.shape.n_tags == 3


def test_each_annotate_choice_writes_its_attributes_and_nothing_else():
    for annotate, predict_pos, written in (
        (["tag"], False, {"tag"}), (["tag"], True, {"tag", "pos"}), (["tag", "morph"], False, {"tag", "morph"}),
        (["tag", "lemma"], False, {"tag", "lemma"}), (["tag", "pos", "morph", "lemma"], False, {"tag", "pos", "morph", "lemma"}),
    ):
        nlp, component = tagger(annotate=annotate, predict_pos=predict_pos, lemma_min_count=1)
        nlp.initialize(lambda: examples(nlp))
        before = dict(tag="ZZ", pos="X", morph="Foo=Bar", lemma="zz")
        doc = plain(nlp, ROWS[0], tags=["ZZ"] * 3, pos=["X"] * 3, morphs=["Foo=Bar"] * 3, lemmas=["zz"] * 3)
        empty = plain(nlp, ROWS[0])
        for d in (component(doc), component(empty)):
            after = {
                "tag": [t.tag_ for t in d], "pos": [t.pos_ for t in d],
                "morph": [str(t.morph) for t in d], "lemma": [t.lemma_ for t in d],
            }
            for attr, values in after.items():
                if attr in written and d is empty:
                    assert all(v for v in values), (annotate, attr, values)
                if attr not in written:  # never touched
                    assert values == ([before[attr]] * 3 if d is doc else [""] * 3), (annotate, attr)
        # overwrite off: the values a Doc has are kept
        assert [t.tag_ for t in doc] == ["ZZ"] * 3
        assert [t.tag_ for t in empty] != ["ZZ"] * 3 and all(t.tag_ in component.labels for t in empty)
        assert component.attributes == tuple(a for a in ("tag", "pos", "morph", "lemma") if a in written)


def test_overwrite_replaces_and_pos_from_tag_copies_the_tags():
    nlp, component = initialized(overwrite=True, pos_from_tag=True)
    doc = component(plain(nlp, ROWS[0], tags=["ZZ"] * 3, pos=["X"] * 3))
    assert all(t.tag_ in component.labels for t in doc)
    assert [t.pos_ for t in doc] == [t.tag_ for t in doc]
    assert component.attributes == ("tag", "pos") and component.heads == ("tag",)
    scores = component.score([Example(doc, gold_doc(nlp.vocab, ROWS[0]))])
    assert set(scores) == {"tag_acc", "pos_acc"}


def test_pipe_call_and_set_annotations_agree():
    nlp, component = initialized(top_k=2, predict_pos=True)
    docs = [plain(nlp, row) for row in ROWS] + [plain(nlp, ROWS[0][:1])]
    by_call = [component(plain(nlp, [(t.text,) for t in d])) for d in docs]
    by_pipe = list(component.pipe((plain(nlp, [(t.text,) for t in d]) for d in docs), batch_size=2))
    by_set = [plain(nlp, [(t.text,) for t in d]) for d in docs]
    scores = component.predict(by_set)
    assert [len(s) for s in scores] == [3, 3, 1]
    component.set_annotations(by_set, scores)
    component.set_annotations([], [])
    assert list(component.pipe([])) == []
    for a, b, c, s in zip(by_call, by_pipe, by_set, scores):
        n_tags = len(component.labels)
        for i, (x, y, z) in enumerate(zip(a, b, c)):
            best = component.labels[int(numpy.argmax(s[i, :n_tags]))]
            assert x.tag_ == y.tag_ == z.tag_ == best
            assert x.pos_ == y.pos_ == z.pos_ == component.pos_labels[int(numpy.argmax(s[i, n_tags:]))]
            assert x._.tag_prob == pytest.approx(float(s[i, :n_tags].max()), abs=1e-5)
            assert x._.tag_prob == pytest.approx(y._.tag_prob, abs=1e-6)
            assert x._.tag_prob == pytest.approx(z._.tag_prob, abs=1e-6)
            assert len(x._.tag_top_k) == 2 and x._.tag_top_k[0][0] == best


def test_update_loss_is_the_squared_error_of_the_probabilities():
    nlp, component = initialized(predict_pos=True)
    egs = examples(nlp)
    probs = component.predict([eg.predicted for eg in egs])
    n_tags = len(component.labels)
    expected = 0.0
    for eg, p in zip(egs, probs):
        for i, token in enumerate(eg.reference):
            tag = numpy.eye(n_tags)[component.labels.index(token.tag_)]
            pos = numpy.eye(len(component.pos_labels))[component.pos_labels.index(token.pos_)]
            expected += ((p[i, :n_tags] - tag) ** 2).sum() + ((p[i, n_tags:] - pos) ** 2).sum()
    loss, grads = component.get_loss(egs, probs)
    assert loss == pytest.approx(expected, rel=1e-4)
    assert [g.shape for g in grads] == [p.shape for p in probs]
    # without an optimizer nothing learns; the losses add up under the component's name
    losses = component.update(egs, losses={"other": 1.0})
    assert losses == {"other": 1.0, "lstm_tagger": pytest.approx(expected, rel=1e-4)}
    assert numpy.array_equal(component.predict([egs[0].predicted])[0], probs[0])
    component.update(egs, losses=losses)
    assert losses["lstm_tagger"] == pytest.approx(2 * expected, rel=1e-4)
    assert component.update([Example(Doc(nlp.vocab, words=[]), Doc(nlp.vocab, words=[]))]) == {"lstm_tagger": 0.0}
    component.update(egs, sgd=False)  # as None: no step
    assert numpy.array_equal(component.predict([egs[0].predicted])[0], probs[0])
    # with one, a few steps bring the loss down
    optimizer = Adam(0.05)
    for _ in range(5):
        component.update(egs, sgd=optimizer)
    assert component.get_loss(egs, component.predict([eg.predicted for eg in egs]))[0] < expected


def test_to_disk_from_disk_and_bytes_round_trip(tmp_path):
    nlp, component = initialized(predict_pos=True, annotate=["tag", "lemma"], lemma_min_count=1)
    component.cfg["tag_temperature"] = 1.5
    docs = [plain(nlp, row) for row in ROWS]
    expected = component.predict(docs)
    nlp.vocab.strings.add("a string of the vocab only")
    component.to_disk(tmp_path / "c")
    data = component.to_bytes()
    for load in (lambda c: c.from_disk(tmp_path / "c"), lambda c: c.from_bytes(data)):
        other_nlp, other = tagger(predict_pos=True, annotate=["tag", "lemma"], lemma_min_count=1)
        assert load(other) is other
        assert other.cfg == component.cfg and other.labels == component.labels
        assert all(label in other_nlp.vocab.strings for label in other.labels)
        assert "a string of the vocab only" in other_nlp.vocab.strings  # the vocab comes along
        loaded = other.predict([plain(other_nlp, row) for row in ROWS])
        assert all(numpy.allclose(a, b) for a, b in zip(loaded, expected))
        tagged = [other(plain(other_nlp, row)) for row in ROWS]
        assert [[t.lemma_ for t in d] for d in tagged] == [[t.lemma_ for t in component(plain(nlp, row))] for row in ROWS]
    # unless excluded, or its strings are (what is excluded is passed on to the vocab)
    for load in (lambda c: c.from_disk(tmp_path / "c", exclude=["vocab"]),
                 lambda c: c.from_bytes(data, exclude=["vocab"]),
                 lambda c: c.from_disk(tmp_path / "c", exclude=["strings"]),
                 lambda c: c.from_bytes(data, exclude=["strings"])):
        other_nlp, other = tagger(predict_pos=True, annotate=["tag", "lemma"], lemma_min_count=1)
        load(other)
        assert other.cfg == component.cfg and "a string of the vocab only" not in other_nlp.vocab.strings


def damaged_copy(tmp_path, name, change):
    path = tmp_path / name
    import shutil
    shutil.copytree(tmp_path / "c", path)
    change(path)
    return path


def test_bad_files_are_refused_and_leave_the_component_as_it_was(tmp_path):
    nlp, component = initialized()
    component.to_disk(tmp_path / "c")
    two_tags = srsly.read_json(tmp_path / "c" / "cfg")
    two_tags["labels"] = ["DET", "NOUN"]
    cases = [
        ("no-cfg", lambda p: (p / "cfg").unlink(), FileNotFoundError, "{p}/cfg: the file is missing"),
        ("no-model", lambda p: (p / "model").unlink(), FileNotFoundError, "{p}/model: the file is missing"),
        ("bad-json", lambda p: (p / "cfg").write_text("{"), ModelFileError, "{p}/cfg: the data is damaged (ValueError: "),
        ("bad-cfg", lambda p: srsly.write_json(p / "cfg", {"labels": 3}), ModelFileError,
         "{p}/cfg: cfg 'labels' is not a list of non-empty strings: 3"),
        ("bad-model", lambda p: (p / "model").write_bytes(b"\x00\x01"), ModelFileError,
         "{p}/model: the file is damaged or truncated (ExtraData: unpack(b) received extra data.)"),
        ("mismatch", lambda p: srsly.write_json(p / "cfg", two_tags), ModelFileError,
         "{p}/model: the weights have 3 tag and 0 UPOS outputs, but cfg has 2 tags and 0 UPOS labels"),
    ]
    doc = plain(nlp, ROWS[0])
    before = component.predict([doc])[0]
    cfg = dict(component.cfg)
    for name, change, kind, message in cases:
        path = damaged_copy(tmp_path, name, change)
        with pytest.raises(kind) as error:
            component.from_disk(path)
        assert type(error.value) is kind
        assert str(error.value).startswith(f"[lstm_tagger] cannot load {message.format(p=path)}"), name
        assert component.cfg == cfg and numpy.array_equal(component.predict([doc])[0], before)
    # what is excluded is not read
    component.from_disk(damaged_copy(tmp_path, "cfg-only", lambda p: (p / "model").unlink()), exclude=["model"])
    component.from_disk(damaged_copy(tmp_path, "model-only", lambda p: (p / "cfg").unlink()), exclude=["cfg"])
    assert component.cfg == cfg and numpy.array_equal(component.predict([doc])[0], before)


def test_bad_bytes_are_refused(tmp_path):
    nlp, component = initialized(predict_pos=True)
    msg = srsly.msgpack_loads(component.to_bytes())
    where = "[lstm_tagger] cannot load the serialized component 'lstm_tagger'"
    fewer = dict(msg, cfg=srsly.json_dumps(dict(srsly.json_loads(msg["cfg"]), pos_labels=[])))
    cases = [
        (b"\xc1", f"{where}: the data is damaged ("),
        (srsly.msgpack_dumps([1]), f"{where}: not a serialized component"),
        (srsly.msgpack_dumps({"model": msg["model"]}), f"{where}: its 'cfg' entry is missing"),
        (srsly.msgpack_dumps({"cfg": msg["cfg"]}), f"{where}: its 'model' entry is missing"),
        (srsly.msgpack_dumps(dict(msg, cfg="{")), f"{where} (cfg): the data is damaged (ValueError: "),
        (srsly.msgpack_dumps(dict(msg, cfg=srsly.json_dumps({"labels": 3}))),
         f"{where} (cfg): cfg 'labels' is not a list of non-empty strings: 3"),
        (srsly.msgpack_dumps(dict(msg, model=b"\x00")), f"{where} (model): "),
        (srsly.msgpack_dumps(fewer), f"{where} (model): the weights have 3 tag and 3 UPOS outputs, but cfg has "
                                     "3 tags and 0 UPOS labels"),
    ]
    cfg = dict(component.cfg)
    for data, message in cases:
        with pytest.raises(ModelFileError) as error:
            component.from_bytes(data)
        assert str(error.value).startswith(message), (message, str(error.value))
        assert component.cfg == cfg
    # without the model, a cfg that disagrees with it is refused all the same
    with pytest.raises(ModelFileError) as error:
        component.from_bytes(srsly.msgpack_dumps({"cfg": fewer["cfg"]}), exclude=["model"])
    assert "the weights have 3 tag and 3 UPOS outputs" in str(error.value)
    component.from_bytes(srsly.msgpack_dumps({"cfg": msg["cfg"]}), exclude=["model"])
    component.from_bytes(srsly.msgpack_dumps({"model": msg["model"]}), exclude=["cfg"])
    assert component.cfg == cfg


def test_a_loaded_model_must_fit_the_settings(tmp_path):
    nlp, component = initialized()  # tags DET NOUN VERB, no UPOS head, no lemma head
    component.to_disk(tmp_path / "c")
    for settings, message in (
        ({"predict_pos": True}, "predict_pos is set, but the model has no UPOS output layer"),
        ({"annotate": ["tag", "lemma"]}, "annotate asks for ['lemma'], but the model was trained without lemma "
                                         "head(s): it cannot write them"),
        ({"annotate": ["tag", "morph", "lemma"]}, "annotate asks for ['morph', 'lemma'], but the model was trained "
                                                  "without morph and lemma head(s): it cannot write them"),
    ):
        _, other = tagger(**settings)
        with pytest.raises(ModelFileError) as error:
            other.from_disk(tmp_path / "c")
        assert str(error.value) == f"[lstm_tagger] cannot load {tmp_path / 'c' / 'model'}: {message}"
    _, other = tagger(pos_from_tag=True)
    other.from_disk(tmp_path / "c")  # its tags are UPOS labels
    cfg = srsly.read_json(tmp_path / "c" / "cfg")
    cfg["labels"] = ["DET", "NN", "VERB"]
    srsly.write_json(tmp_path / "c" / "cfg", cfg)
    _, other = tagger(pos_from_tag=True)
    with pytest.raises(ModelFileError) as error:
        other.from_disk(tmp_path / "c")
    assert str(error.value).endswith(
        ": pos_from_tag is set, but the tag 'NN' is not a UPOS label: only a model whose tags are UPOS can "
        "write them into token.pos_"
    )


def test_score_tagger_counts_each_attribute_as_spacy():
    from spacy.vocab import Vocab
    from spacy_lstm_tagger.pipeline.component import score_tagger

    words = ["The", "dogs", "ran"]
    # the predictions, by hand: every tag right, one UPOS label of three, two FEATS
    # strings (Number wrong), no lemma
    gold_vocab, vocab = Vocab(), Vocab()  # the gold Docs with a vocab of their own
    gold = Doc(gold_vocab, words=words, tags=["DET", "NOUN", "VERB"], pos=["DET", "NOUN", "VERB"],
               morphs=["Definite=Def", "Number=Plur", "Tense=Past"], lemmas=["the", "dog", "run"])
    predicted = Doc(vocab, words=words, tags=["DET", "NOUN", "VERB"], pos=["DET", "VERB", "NOUN"],
                    morphs=["Definite=Def", "Number=Sing|Person=3", "Tense=Past"], lemmas=["x", "y", "z"])
    scores = score_tagger([Example(predicted, gold)], attrs=("tag", "pos", "morph", "lemma"))
    assert scores == {
        "tag_acc": 1.0, "pos_acc": pytest.approx(1 / 3), "morph_acc": pytest.approx(2 / 3), "lemma_acc": 0.0,
        # features: 3 gold, 4 predicted, 2 of them right
        "morph_micro_p": 0.5, "morph_micro_r": pytest.approx(2 / 3), "morph_micro_f": pytest.approx(4 / 7),
        "morph_per_feat": {
            "Definite": {"p": 1.0, "r": 1.0, "f": 1.0},
            "Number": {"p": 0.0, "r": 0.0, "f": 0.0},
            "Person": {"p": 0.0, "r": 0.0, "f": 0.0},
            "Tense": {"p": 1.0, "r": 1.0, "f": 1.0},
        },
    }
    assert score_tagger([Example(predicted, gold)]) == {"tag_acc": 1.0}
    assert set(score_tagger([Example(predicted, gold)], attrs=("morph",))) == {
        "morph_acc", "morph_per_feat", "morph_micro_p", "morph_micro_r", "morph_micro_f",
    }
    # the component scores the attributes it writes
    nlp, component = initialized(annotate=["tag", "morph"])
    doc = component(plain(nlp, ROWS[0]))
    assert set(component.score([Example(doc, gold_doc(nlp.vocab, ROWS[0]))])) == {
        "tag_acc", "morph_acc", "morph_per_feat", "morph_micro_p", "morph_micro_r", "morph_micro_f",
    }


def test_a_cfg_whose_extra_heads_do_not_fit_the_weights_is_refused(tmp_path):
    nlp, component = initialized(annotate=["tag", "morph"])
    component.to_disk(tmp_path / "c")
    cfg = srsly.read_json(tmp_path / "c" / "cfg")
    assert len(cfg["morph_labels"]) == 5  # the FEATS strings of ROWS, Tense=Past once
    cfg["morph_labels"] = cfg["morph_labels"][:4]
    srsly.write_json(tmp_path / "c" / "cfg", cfg)
    _, other = tagger(annotate=["tag", "morph"])
    with pytest.raises(ModelFileError) as error:
        other.from_disk(tmp_path / "c")
    assert str(error.value) == (
        f"[lstm_tagger] cannot load {tmp_path / 'c' / 'model'}: the weights have heads of [5] outputs after "
        "the tag and UPOS heads, but cfg has [('morph', 4)]"
    )


def test_errors_go_to_the_error_handler_with_the_docs_of_the_batch():
    nlp, component = tagger(name="mine")  # not initialized: annotating raises
    calls = []
    component.set_error_handler(lambda name, proc, docs, e: calls.append((name, proc, docs, type(e))))
    doc = plain(nlp, ROWS[0])
    component(doc)
    assert calls == [("mine", component, [doc], ValueError)]
    calls.clear()
    docs = [plain(nlp, ROWS[i % 2]) for i in range(130)]
    assert list(component.pipe(docs)) == []  # none annotated
    # 128 Docs a batch unless told
    assert calls == [("mine", component, docs[:128], ValueError), ("mine", component, docs[128:], ValueError)]
    calls.clear()
    list(component.pipe(docs[:3], batch_size=2))
    assert [call[2] for call in calls] == [docs[:2], docs[2:3]]


def test_what_is_not_an_example_is_refused_naming_the_method():
    nlp, component = initialized()
    doc = plain(nlp, ROWS[0])
    for method, call in (("update", lambda: component.update([doc])),
                         ("get_loss", lambda: component.get_loss([doc], component.predict([doc]))),
                         ("score", lambda: component.score([doc]))):
        with pytest.raises(TypeError) as error:
            call()
        assert str(error.value) == (
            f"[E978] The LSTMTagger.{method} method takes a list of Example objects, but got: {{{Doc!r}}}"
        )


def test_labels_are_in_the_vocab_whatever_it_was_loaded_from():
    nlp, component = tagger()
    component.initialize(lambda: examples(nlp), labels=["DT", "NNS", "VBD"])  # not spaCy symbols
    data = component.to_bytes()
    other_nlp, other = tagger()
    other.from_bytes(data, exclude=["vocab"])
    assert all(label in other_nlp.vocab.strings for label in ("DT", "NNS", "VBD"))
    assert all(t.tag_ in ("DT", "NNS", "VBD") for t in other(plain(other_nlp, ROWS[0])))


def test_loss_with_label_smoothing_negative_and_unknown_labels():
    nlp, component = tagger(name="mine", label_smoothing=0.2, neg_prefix="~")
    nlp.initialize(lambda: examples(nlp))
    assert component.labels == ("DET", "NOUN", "VERB")
    words = ["The", "dogs", "ran"]
    # DET; not VERB; no gold tag
    eg = Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=["DET", "~VERB", ""]))
    probs = component.predict([eg.predicted])
    p = probs[0]
    # the gold label keeps 0.8, the other two 0.1 each; a negative label only pushes its own column to 0
    expected = ((p[0] - numpy.array([0.8, 0.1, 0.1])) ** 2).sum() + p[1, 2] ** 2
    loss, grads = component.get_loss([eg], probs)
    assert loss == pytest.approx(expected, rel=1e-4)
    assert numpy.allclose(grads[0][1], [0.0, 0.0, p[1, 2]]) and numpy.allclose(grads[0][2], 0.0)
    assert component.get_loss([], []) == (0.0, [])
    bad = Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=["DET", "ZZ", "VERB"]))
    with pytest.raises(ValueError) as error:
        component.get_loss([bad], component.predict([bad.predicted]))
    assert str(error.value).startswith("[mine] gold tag label 'ZZ' (token ")


def test_initialize_names_itself_and_takes_given_upos_labels_and_lemma_counts():
    nlp, component = tagger(name="mine", predict_pos=True)
    with pytest.raises(TypeError) as error:
        component.initialize([])
    assert "Received invalid get_examples callback in `LSTMTagger.initialize`" in str(error.value)
    unalignable = Example(Doc(nlp.vocab, words=["a", "b"]), Doc(nlp.vocab, words=["a", "c"], tags=["DET", "NOUN"]))
    with pytest.raises(ValueError) as error:
        component.initialize(lambda: [unalignable])
    assert str(error.value).startswith("[mine] example 'a c ': [E949] Unable to align tokens")
    with pytest.raises(ValueError) as error:
        component.initialize(lambda: examples(nlp), labels={"tag": ["DET"], "pos": ["NOUN", " X"]})
    assert str(error.value) == (
        "[mine] cannot initialize: the UPOS label ' X' given to initialize (labels) starts or ends with whitespace"
    )
    component.initialize(lambda: examples(nlp), labels={"tag": ["DET", "X"], "pos": ["VERB", "NOUN"]})
    assert component.labels == ("DET", "X") and component.pos_labels == ("VERB", "NOUN")
    assert component.model.shape.n_pos == 2
    # a head asked for without gold values
    nlp, component = tagger(annotate=["tag", "lemma"])
    with pytest.raises(ValueError) as error:
        component.initialize(lambda: examples(nlp, lemma=False))
    assert str(error.value) == (
        "[lstm_tagger] cannot initialize: annotate has 'lemma', but no example has gold lemmas (token.lemma_): "
        "remove 'lemma' from annotate, or give examples with lemmas"
    )
    # lemma rules: of ROWS' six lemmas, lowercasing alone is seen three times (The, A, cat);
    # each other rule once
    rules = {m: initialized(annotate=["tag", "lemma"], lemma_min_count=m)[1].cfg["lemma_rules"] for m in (1, 2)}
    assert rules[2] == [["lower", "", "", "", ""]] and len(rules[1]) == 5


def test_labels_seen_negative_bad_and_none_and_where_the_examples_were():
    nlp, component = tagger(neg_prefix="~")
    words = ["The", "dogs", "ran"]
    # a negative label counts for its label
    negative = Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=["DET", "~JJ", "VERB"]))
    component.initialize(lambda: [negative])
    assert component.labels == ("DET", "JJ", "VERB")
    # initialize again without tags: the old labels are kept
    component.initialize(lambda: [Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words))])
    assert component.labels == ("DET", "JJ", "VERB")
    nlp, component = tagger()
    bad = Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=["DET", "a\tb", "VERB"]))
    with pytest.raises(ValueError) as error:
        component.initialize(lambda: [bad])
    assert str(error.value).startswith("[lstm_tagger] cannot initialize: ")
    assert "'a\\tb'" in str(error.value) and "U+0009" in str(error.value)
    # without a pipeline, or with no paths.train, nothing is said of where the examples were
    nothing = "[lstm_tagger] cannot initialize: no training examples were found at all, and no labels were added with add_label"
    for train in (None, ""):
        nlp.config["paths"]["train"] = train
        with pytest.raises(ValueError) as error:
            component.initialize(lambda: iter(()), nlp=nlp)
        assert str(error.value) == nothing
    nlp.config["paths"]["train"] = "train.spacy"
    with pytest.raises(ValueError) as error:
        component.initialize(lambda: iter(()))
    assert str(error.value) == nothing


def test_score_passes_its_arguments_to_the_scorer():
    nlp, component = tagger(pos_from_tag=True)
    component.scorer = lambda examples, attrs, **kwargs: (len(examples), attrs, kwargs)
    eg = Example(plain(nlp, ROWS[0]), gold_doc(nlp.vocab, ROWS[0]))
    assert component.score(iter([eg, eg]), per_component=True) == (2, ("tag", "pos"), {"per_component": True})


def test_loss_learns_from_a_teachers_distribution():
    from spacy_lstm_tagger.pipeline.soft_targets import TEACHER_KEY

    teacher = numpy.array([[0.6, 0.2, 0.2], [0.1, 0.7, 0.2], [0.0, 0.5, 0.5]], dtype="f")
    for weight in (0.25, 0.0):
        nlp, component = initialized(teacher_weight=weight)
        assert component.labels == ("DET", "NOUN", "VERB")
        gold = gold_doc(nlp.vocab, ROWS[0])
        gold.user_data[TEACHER_KEY] = {"TAG": {"labels": ["DET", "NOUN", "VERB"], "probs": teacher}}
        eg = Example(plain(nlp, ROWS[0]), gold)
        probs = component.predict([eg.predicted])
        # the target: (1 - weight) of the gold label, weight of the teacher's distribution
        target = (1 - weight) * numpy.eye(3) + weight * teacher
        loss, _ = component.get_loss([eg], probs)
        assert loss == pytest.approx(((probs[0] - target) ** 2).sum(), rel=1e-4), weight


def test_score_tagger_passes_missing_values_to_spacys_scorer():
    from spacy.vocab import Vocab
    from spacy_lstm_tagger.pipeline.component import score_tagger

    words = ["The", "dogs", "ran"]
    gold = Doc(Vocab(), words=words, tags=["DET", "", "VERB"], morphs=["Definite=Def", "Number=Plur", "Tense=Past"])
    predicted = Doc(Vocab(), words=words, tags=["DET", "NOUN", "NOUN"],
                    morphs=["Definite=Def", "Number=Sing|Person=3", "Tense=Past"])
    eg = Example(predicted, gold)
    # by default a gold tag "" is missing: 1 of 2 tags right
    assert score_tagger([eg], attrs=("tag",)) == {"tag_acc": 0.5}
    # told that only the second token's FEATS are missing: "" is a tag (1 of 3 right), and the
    # morph scores leave the second token out (every feature right)
    scores = score_tagger([eg], attrs=("tag", "morph"), missing_values={gold[1].morph.key})
    assert scores["tag_acc"] == pytest.approx(1 / 3) and scores["morph_acc"] == 1.0
    assert scores["morph_per_feat"] == {"Definite": {"p": 1.0, "r": 1.0, "f": 1.0}, "Tense": {"p": 1.0, "r": 1.0, "f": 1.0}}


def test_a_network_beyond_reason_is_refused_at_initialize_naming_the_component():
    # 10**8-wide word vectors for the 8 words of the examples (and padding,
    # unknown): over 10**9 weights, refused before anything is allocated.
    nlp = spacy.blank("en")
    component = nlp.add_pipe("lstm_tagger", name="big", config={"model": {**TINY, "word_width": 10**8}})
    with pytest.raises(ValueError) as error:
        nlp.initialize(lambda: examples(nlp))
    assert str(error.value).startswith("[big] cannot initialize: the network would have ")
    assert str(error.value).endswith(" weights (more than 1,000,000,000)")
    assert not component.model.is_ready
