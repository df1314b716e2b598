"""Odd and hostile text, and bad training data: a tag for every token, bounded
memory, and clear errors instead of torch shape errors."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import fix_random_seed

import spacy_lstm_tagger  # noqa: F401  (registers the factory in this process)
from spacy_lstm_tagger.pipeline import featurize
from spacy_lstm_tagger.pipeline.featurize import token_ids
from spacy_lstm_tagger.pipeline.settings import TOKENS_PER_PASS

HERE = Path(__file__).resolve().parent
TRAIN_DATA = [
    ("The dog ate the apple".split(), "DET NN V DET NN".split()),
    ("Everybody read that book".split(), "NN V DET NN".split()),
]
SMALL = {"word_width": 16, "char_width": 8, "char_features": 8, "hidden_width": 16}
MAX_PEAK_MB = 1024


def examples_of(nlp, data):
    return [
        Example(Doc(nlp.vocab, words=w), Doc(nlp.vocab, words=w, tags=t)) for w, t in data
    ]


def small_nlp(data=TRAIN_DATA):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": SMALL})
    nlp.initialize(lambda: examples_of(nlp, data))
    return nlp


@pytest.fixture(scope="module")
def nlp():
    return small_nlp()


def test_hostile_texts_get_a_tag_per_token_in_bounded_memory():
    # A process of its own: spaCy, torch and a default-size model, tagging empty,
    # whitespace, punctuation, emoji, CJK, RTL, combining and control text, NULs,
    # a 100,000-token Doc and 100,000-character tokens, one by one and batched.
    result = subprocess.run(
        [sys.executable, str(HERE / "hostile_texts.py")],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    results = report["results"]
    assert len(results) == 2 * 15
    for name, counts in results.items():
        assert counts["tagged"] == counts["tokens"], (name, counts)
    for prefix in ("", "batch_"):
        assert results[prefix + "long_doc"]["tokens"] == 100_000
        assert results[prefix + "long_token"]["tokens"] == 1
        assert results[prefix + "long_token_in_text"]["tokens"] == 3
        assert results[prefix + "empty_doc"]["tokens"] == 0
        assert results[prefix + "nul_tokens"]["tokens"] == 5
    assert report["peak_mb"] < MAX_PEAK_MB, (
        f"peak resident memory {report['peak_mb']:.0f} MB "
        f"({report['loaded_mb']:.0f} MB before tagging)"
    )


def test_a_huge_doc_is_read_once_however_many_passes_it_takes(nlp, monkeypatch):
    # Reading the whole Doc again for each pass of TOKENS_PER_PASS tokens made
    # time per token grow with the Doc's length.
    reads = []

    def counting_token_ids(doc):
        reads.append(len(doc))
        return token_ids(doc)

    monkeypatch.setattr(featurize, "token_ids", counting_token_ids)
    doc = Doc(nlp.vocab, words=[f"w{i % 997}" for i in range(5 * TOKENS_PER_PASS + 7)])
    short = Doc(nlp.vocab, words=TRAIN_DATA[0][0])
    tagged = list(nlp.pipe([doc, short]))
    assert reads == [len(doc), len(short)]
    assert all(token.tag_ for doc in tagged for token in doc)


# Any character but lone surrogates, which are not text (spaCy cannot store them).
TOKEN = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(batch=st.lists(st.lists(TOKEN, max_size=30), max_size=4))
def test_any_tokens_get_one_known_tag_each(nlp, batch):
    labels = set(nlp.get_pipe("lstm_tagger").labels)
    docs = [Doc(nlp.vocab, words=words) for words in batch]
    for words, doc in zip(batch, nlp.pipe(docs)):
        tags = [token.tag_ for token in doc]
        assert len(tags) == len(words)
        assert set(tags) <= labels


# Bad training data: handled as spaCy's own tagger handles it, or refused with an
# error that names the problem (existing checks: tests/test_tagger.py).


@pytest.mark.parametrize("factory", ["lstm_tagger", "tagger"])
def test_empty_training_set_is_refused_like_spacys_tagger(factory):
    nlp = spacy.blank("en")
    nlp.add_pipe(factory)
    with pytest.raises(TypeError, match=r"E930.*initialize"):
        nlp.initialize(lambda: [])


def test_update_with_no_examples(nlp):
    assert nlp.get_pipe("lstm_tagger").update([]) == {"lstm_tagger": 0.0}


def test_batch_without_gold_tags_has_zero_loss():
    nlp = small_nlp()
    tagger = nlp.get_pipe("lstm_tagger")
    optimizer = nlp.resume_training()
    untagged = [
        Example(Doc(nlp.vocab, words=w), Doc(nlp.vocab, words=w))
        for w, _ in TRAIN_DATA + [("A wholly new sentence".split(), None)]
    ]
    for _ in range(3):
        losses = nlp.update(untagged, sgd=optimizer)
        assert losses["lstm_tagger"] == 0.0
    _, d_scores = tagger.get_loss(untagged, tagger.predict([eg.predicted for eg in untagged]))
    assert all((d == 0).all() for d in d_scores)
    scores = tagger.predict([Doc(nlp.vocab, words=w) for w, _ in TRAIN_DATA])
    assert all(math.isfinite(float(s.sum())) for s in scores)


def misaligned(nlp):
    """The predicted tokenization merges one pair of tokens and splits one token."""
    reference = Doc(nlp.vocab, words="New York is big".split(), tags="NNP NNP VBZ JJ".split())
    predicted = Doc(nlp.vocab, words=["New York", "is", "bi", "g"])
    return Example(predicted, reference)


def test_initialize_with_misaligned_tokenization():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("lstm_tagger", config={"model": SMALL})
    nlp.initialize(lambda: [misaligned(nlp)])
    # Labels from the reference, as spaCy's tagger; tables from the predicted tokens.
    assert tagger.labels == ("JJ", "NNP", "VBZ")
    assert "new york" in tagger.model.attrs["tables"].word_index


def test_update_with_misaligned_tokenization_uses_the_aligned_tags():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("lstm_tagger", config={"model": SMALL})
    examples = [misaligned(nlp)]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):
        losses = nlp.update(examples, sgd=optimizer)
        assert math.isfinite(losses["lstm_tagger"]) and losses["lstm_tagger"] > 0
    # Each predicted token is pushed towards its aligned gold tag, as spaCy's
    # tagger does (Example.get_aligned): the merged token towards NNP, both
    # halves of the split token towards JJ.
    scores = tagger.predict([examples[0].predicted])
    _, (d_scores,) = tagger.get_loss(examples, scores)
    pushed = [tagger.labels[row.argmin()] for row in d_scores]
    assert pushed == examples[0].get_aligned("TAG", as_string=True) == ["NNP", "VBZ", "JJ", "JJ"]


def test_examples_whose_texts_differ_are_refused(nlp):
    bad = Example(
        Doc(nlp.vocab, words="The dog ate".split()),
        Doc(nlp.vocab, words="The cat ate".split(), tags="DET NN V".split()),
    )
    with pytest.raises(ValueError, match=r"\[lstm_tagger\] example 'The cat ate ?'.*E949"):
        nlp.update([bad], sgd=nlp.resume_training())
    fresh = spacy.blank("en")
    fresh.add_pipe("lstm_tagger", config={"model": SMALL})
    with pytest.raises(ValueError, match=r"\[lstm_tagger\] example 'The cat ate ?'.*E949"):
        fresh.initialize(lambda: examples_of(fresh, TRAIN_DATA) + [bad])
