"""Distillation: teachers' soft targets travel with the Docs, the student's loss
mixes them into its target, and `train --teachers N` runs teachers then student."""
import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab

from helpers import SMALL_MODEL, TOY_DATA, TOY_LABELS, slice_treebank, toy_examples
from spacy_lstm_tagger.corpus import TOY_CORPUS
from spacy_lstm_tagger.data.corpus import read_docs, write_docbin
from spacy_lstm_tagger.pipeline.soft_targets import TEACHER_KEY, soft_targets
from spacy_lstm_tagger.training.distill import add_soft_targets
from spacy_lstm_tagger.training.options import TrainingOptions
from spacy_lstm_tagger.training.runs import train_files
from spacy_lstm_tagger.configs import CONFIG_DIR
from spacy_lstm_tagger.data.treebank import find_treebank

TOY_CONFIG = CONFIG_DIR / "toy.cfg"


def tagger_nlp(**config):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": SMALL_MODEL, **config})
    nlp.initialize(lambda: toy_examples(nlp))
    return nlp


def taught_example(nlp, teacher_labels, probs):
    words, tags = TOY_DATA[0]
    reference = Doc(nlp.vocab, words=words, tags=tags)
    reference.user_data[TEACHER_KEY] = {"TAG": {"labels": teacher_labels, "probs": probs}}
    return Example(Doc(nlp.vocab, words=words), reference)


def test_loss_target_mixes_gold_and_teacher_by_teacher_weight():
    nlp = tagger_nlp(teacher_weight=0.25)
    tagger = nlp.get_pipe("lstm_tagger")
    # The teacher's labels in another order than the student's (DET, NN, V).
    teacher_labels = ["V", "DET", "NN"]
    probs = numpy.array([[0.1, 0.6, 0.3]] * 5, dtype="float16")
    example = taught_example(nlp, teacher_labels, probs)
    scores = tagger.predict([example.predicted])
    _, d_scores = tagger.get_loss([example], scores)
    gold = numpy.eye(3)[[TOY_LABELS.index(tag) for tag in TOY_DATA[0][1]]]
    teacher = numpy.array([[0.6, 0.3, 0.1]] * 5)  # in the student's order
    # spaCy's gradient: probabilities minus the target.
    expected = scores[0] - (0.75 * gold + 0.25 * teacher)
    numpy.testing.assert_allclose(d_scores[0], expected, atol=1e-3)


def test_teacher_weight_zero_or_no_targets_is_plain_cross_entropy():
    nlp = tagger_nlp(teacher_weight=0.0)
    tagger = nlp.get_pipe("lstm_tagger")
    taught = taught_example(nlp, list(TOY_LABELS), numpy.full((5, 3), 1 / 3, dtype="float32"))
    plain = toy_examples(nlp)[0]
    scores = tagger.predict([plain.predicted])
    numpy.testing.assert_array_equal(
        tagger.get_loss([taught], scores)[1][0], tagger.get_loss([plain], scores)[1][0]
    )


@pytest.mark.parametrize(
    "stored, problem",
    [
        ({"TAG": {"labels": ["DET"], "probs": numpy.ones((5, 2), dtype="float32")}}, "shape"),
        ({"TAG": {"labels": ["DET", "NN"], "probs": numpy.full((5, 2), numpy.nan, dtype="float32")}}, "nan"),
        ({"TAG": {"labels": [1, 2], "probs": numpy.ones((5, 2), dtype="float32")}}, "labels"),
        ({"TAG": {"labels": ["DET", "NN"], "probs": [[1, 0]] * 5}}, "list"),
    ],
)
def test_malformed_soft_targets_name_the_example(stored, problem):
    nlp = tagger_nlp()
    words, tags = TOY_DATA[0]
    reference = Doc(nlp.vocab, words=words, tags=tags)
    reference.user_data[TEACHER_KEY] = stored
    example = Example(Doc(nlp.vocab, words=words), reference)
    tagger = nlp.get_pipe("lstm_tagger")
    with pytest.raises(ValueError, match=r"\[lstm_tagger\] example 'The dog ate the apple.*malformed"):
        tagger.get_loss([example], tagger.predict([example.predicted]))


def test_soft_targets_survive_a_docbin_and_drop_unknown_labels(tmp_path):
    teacher = tagger_nlp()
    vocab = Vocab()
    docs = [Doc(vocab, words=words, tags=tags) for words, tags in TOY_DATA]
    add_soft_targets([teacher, teacher], docs)
    write_docbin(docs, tmp_path / "taught.spacy")
    read = read_docs(tmp_path / "taught.spacy", Vocab())
    for doc, again in zip(docs, read):
        stored = soft_targets(doc, "TAG", TOY_LABELS)
        numpy.testing.assert_array_equal(stored, soft_targets(again, "TAG", TOY_LABELS))
        numpy.testing.assert_allclose(stored.sum(axis=1), 1.0, atol=1e-3)
        # Two identical teachers average to one teacher's distribution.
        expected = teacher.get_pipe("lstm_tagger").predict([doc])[0]
        numpy.testing.assert_allclose(stored, expected, atol=2e-3)
        # A student without "V": the rest renormalised.
        two = soft_targets(again, "TAG", ["NN", "DET"])
        numpy.testing.assert_allclose(two.sum(axis=1), 1.0, atol=1e-3)
        numpy.testing.assert_allclose(two[:, 0] / two[:, 1], stored[:, 1] / stored[:, 0], rtol=1e-3)


def test_train_with_teachers_trains_them_then_a_student_that_overfits(tmp_path):
    log = []
    best = train_files(TOY_CONFIG, tmp_path / "out", TOY_CORPUS, options=TrainingOptions(teachers=2, epochs=30, seed=0, log=log.append))
    out = tmp_path / "out"
    teacher_1 = spacy.load(out / "teacher-1" / "model-best")
    student = spacy.load(best)
    for nlp in (teacher_1, student, spacy.load(out / "teacher-2" / "model-best")):
        assert [[t.tag_ for t in nlp(" ".join(words))] for words, _ in TOY_DATA] == [
            tags for _, tags in TOY_DATA
        ]
    distillation = student.meta["distillation"]
    assert distillation["teachers"] == [str(out / f"teacher-{k}" / "model-best") for k in (1, 2)]
    assert distillation["ensemble_dev"] == {"tag_acc": 1.0}
    taught = read_docs(out / "corpus" / "train-taught.spacy", Vocab())
    assert [soft_targets(doc, "TAG", TOY_LABELS).shape for doc in taught] == [(5, 3), (4, 3)]
    # Teacher 1 is the student without a teacher: same seed, so its weights
    # differ from the student's only through the soft targets.
    assert "teacher 1 of 2 (seed 0)" in "\n".join(log)
    t1, st = (nlp.get_pipe("lstm_tagger").predict([nlp.make_doc("The dog ate")])[0] for nlp in (teacher_1, student))
    assert not numpy.allclose(t1, st)


@pytest.mark.slow
def test_distillation_on_an_ewt_slice_end_to_end(ewt, tmp_path):
    """The documented command, teachers then student, on a small slice."""
    folder = slice_treebank(find_treebank(ewt), tmp_path / "slice", 500, 100)
    result = subprocess.run(
        [sys.executable, "-m", "spacy_lstm_tagger", "train", "--ud", str(folder), "--teachers", "2",
         "--epochs", "4", "--output", str(tmp_path / "out"), "--show", ""],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    student = spacy.load(tmp_path / "out" / "model-best")
    # Four epochs on 500 sentences reached 0.77 here (the teachers' ensemble
    # 0.79); a model that learned nothing tags everything NN, which scores 0.11.
    assert student.meta["performance"]["tag_acc"] > 0.70, result.stdout
    assert set(student.meta["distillation"]["ensemble_dev"]) == {"tag_acc", "pos_acc"}
    assert "teachers' ensemble on dev" in result.stdout
