"""Training data that is not what it should be: a dev set with nothing to score
finishes training, and a malformed JSON corpus gets an error naming the file
and the sentence."""
import gzip
import json

import pytest
import spacy
from spacy.tokens import Doc
from spacy.vocab import Vocab

from spacy_lstm_tagger.corpus import TOY_CORPUS
from spacy_lstm_tagger.data.corpus import read_docs, write_docbin
from spacy_lstm_tagger.configs import CONFIG_DIR
from spacy_lstm_tagger.training.options import TrainingOptions
from spacy_lstm_tagger.training.runs import train_files

UNTAGGED_DEV = "1\tThe\tthe\t_\t_\t_\t_\t_\t_\t_\n2\tdog\tdog\t_\t_\t_\t_\t_\t_\t_\n\n"


def test_dev_set_with_nothing_to_score_finishes_and_says_so(tmp_path):
    dev = tmp_path / "dev.conllu"
    dev.write_text(UNTAGGED_DEV, encoding="utf8")
    log = []
    best = train_files(CONFIG_DIR / "toy.cfg", tmp_path / "out", TOY_CORPUS, dev, options=TrainingOptions(epochs=3, seed=0, log=log.append))
    assert f"the dev corpus {dev} has no tagged sentences" in "\n".join(log)
    epoch_lines = [line.split() for line in log if line.split()[0].isdigit()]
    assert [(fields[0], fields[2]) for fields in epoch_lines] == [("1", "-"), ("2", "-"), ("3", "-")]
    for pipeline in (best, tmp_path / "out" / "model-last"):
        nlp = spacy.load(pipeline)
        assert nlp.meta["lstm_tagger_training"]["epoch"] == 3
        assert [t.tag_ for t in nlp("The dog ate the apple")][1] in {"DET", "NN", "V"}


@pytest.mark.parametrize("name, text", [("empty.conllu", ""), ("comments.conllu", "# only a comment\n\n"), ("empty.json", "[]")])
def test_an_empty_corpus_is_refused_and_named(tmp_path, name, text):
    empty = tmp_path / name
    empty.write_text(text, encoding="utf8")
    with pytest.raises(ValueError) as err:
        train_files(CONFIG_DIR / "toy.cfg", tmp_path / "out", empty, options=TrainingOptions(epochs=1, seed=0, log=lambda line: None))
    assert str(err.value) == f"the training corpus {empty} is empty: it holds no sentences"
    with pytest.raises(ValueError) as err:
        train_files(CONFIG_DIR / "toy.cfg", tmp_path / "out", TOY_CORPUS, empty, options=TrainingOptions(epochs=1, seed=0, log=lambda line: None))
    assert str(err.value) == f"the dev corpus {empty} is empty: it holds no sentences"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "corpus, problem",
    [
        ({"words": ["a"], "tags": ["DET"]}, "expected a JSON list of sentences, found an object"),
        ([{"words": "ab", "tags": ["DET", "NN"]}], "sentence 0 needs non-empty 'words' and 'tags' lists of strings of the same length: 'words' is a string"),
        ([{"words": ["a"], "tags": ["DET"]}, {"words": ["a", "b"], "tags": ["DET", 3]}], "sentence 1 needs non-empty 'words' and 'tags' lists of strings of the same length: 'tags' item 1 is 3, not a non-empty string"),
        ([{"words": ["a"], "tags": [None]}], "sentence 0 needs non-empty 'words' and 'tags' lists of strings of the same length: 'tags' item 0 is null, not a non-empty string"),
        ([{"words": ["a"], "tags": None}], "sentence 0 needs non-empty 'words' and 'tags' lists of strings of the same length: 'tags' is null"),
        ([{"words": ["a", ""], "tags": ["DET", "NN"]}], "sentence 0 needs non-empty 'words' and 'tags' lists of strings of the same length: 'words' item 1 is \"\", not a non-empty string"),
        ([{"words": [], "tags": []}], "sentence 0 needs non-empty 'words' and 'tags' lists of strings of the same length: 'words' is an empty list"),
        (["The dog"], "sentence 0 needs non-empty 'words' and 'tags' lists of strings of the same length: found a string"),
    ],
)
def test_malformed_json_corpus_names_file_and_sentence(tmp_path, corpus, problem):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(corpus), encoding="utf8")
    with pytest.raises(ValueError) as err:
        read_docs(path, Vocab())
    assert str(err.value) == f"{path}: {problem}"


@pytest.mark.parametrize(
    "tag, problem",
    [("NN\t", "contains the control character U+0009"), ("NN\n", "contains the control character U+000A"),
     ("\u0085NN", "contains the control character U+0085"), ("NN ", "starts or ends with whitespace")],
)
def test_a_corpus_tag_that_breaks_conllu_names_file_and_place(tmp_path, tag, problem):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"words": ["a"], "tags": ["DET"]}, {"words": ["a", "b"], "tags": ["DET", tag]}]), encoding="utf8")
    with pytest.raises(ValueError) as err:
        read_docs(path, Vocab())
    assert str(err.value) == f"{path}: sentence 1, tag 1: the label {tag!r} {problem}"
    vocab = Vocab()
    docbin = tmp_path / "bad.spacy"
    write_docbin([Doc(vocab, words=["a"], tags=["DET"]), Doc(vocab, words=["a", "b", "c"], tags=["DET", "", tag])], docbin)
    with pytest.raises(ValueError) as err:
        read_docs(docbin, Vocab())
    assert str(err.value) == f"{docbin}: Doc 1, token 2: the tag {tag!r} {problem}"


def test_a_damaged_docbin_is_named(tmp_path):
    good = tmp_path / "good.spacy"
    write_docbin(read_docs(TOY_CORPUS, Vocab()), good)
    cut = tmp_path / "cut.spacy"
    cut.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(ValueError, match=f"^{cut}: \\[E1014\\] Error loading DocBin data"):
        read_docs(cut, Vocab())


def test_gzipped_json_corpus_reads_and_truncated_one_is_named(tmp_path):
    good = tmp_path / "toy.json.gz"
    good.write_bytes(gzip.compress(TOY_CORPUS.read_bytes()))
    assert [t.tag_ for t in read_docs(good, Vocab())[0]] == ["DET", "NN", "V", "DET", "NN"]
    truncated = tmp_path / "cut.json.gz"
    truncated.write_bytes(good.read_bytes()[:-12])
    with pytest.raises(ValueError, match=f"^{truncated}: the file is truncated or damaged"):
        read_docs(truncated, Vocab())
    invalid = tmp_path / "invalid.json"
    invalid.write_text('[{"words": ["a"], "tags": ["DET"]}', encoding="utf8")
    with pytest.raises(ValueError, match=f"^{invalid}: not valid JSON"):
        read_docs(invalid, Vocab())
