import gzip
import re
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from spacy_lstm_tagger.cli import run as main
from spacy_lstm_tagger.data.conllu import read_conllu
from spacy_lstm_tagger.data.treebank import ewt_dir, ewt_file

# "I can't go." with the contraction as a multi-word token, plus an empty node
# and a second sentence with missing tags.
SAMPLE = """\
# sent_id = 1
# text = I can't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
3.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\tSpaceAfter=No

# sent_id = 2
# text = Hi there
1\tHi\thi\t_\tUH\t_\t0\troot\t_\t_
2\tthere\tthere\tADV\t_\t_\t1\tadvmod\t_\tSpaceAfter=No
"""

# The range line's MISC decides the space after the whole token.
RANGE_NO_SPACE = """\
1\tHe\the\tPRON\tPRP\t_\t2\tnsubj\t_\t_
2-3\twon't\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No
2\two\twill\tAUX\tMD\t_\t0\troot\t_\t_
3\tn't\tnot\tPART\tRB\t_\t2\tadvmod\t_\t_
4\t!\t!\tPUNCT\t.\t_\t2\tpunct\t_\t_
"""

def write(path: Path, text: str, gzipped: bool = False) -> Path:
    if gzipped:
        with gzip.open(path, "wt", encoding="utf8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf8")
    return path


@pytest.fixture(params=["plain", "gzip", "gzip-no-suffix"])
def sample_path(request, tmp_path):
    # The last case checks gzip is detected by magic bytes, not only the suffix.
    name = {"plain": "s.conllu", "gzip": "s.conllu.gz", "gzip-no-suffix": "s.conllu"}
    return write(tmp_path / name[request.param], SAMPLE, request.param != "plain")


def test_read_conllu_sample(sample_path):
    docs = list(read_conllu(sample_path, Vocab()))
    assert len(docs) == 2
    doc = docs[0]
    # Syntactic words: the range line and the empty node are not tokens.
    assert [t.text for t in doc] == ["I", "ca", "n't", "go", "."]
    assert [t.tag_ for t in doc] == ["PRP", "MD", "RB", "VB", "."]
    assert [t.pos_ for t in doc] == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert [bool(t.whitespace_) for t in doc] == [True, False, True, False, False]
    assert doc.text == "I can't go."


def test_read_conllu_missing_tags(sample_path):
    doc = list(read_conllu(sample_path, Vocab()))[1]
    assert [t.tag_ for t in doc] == ["UH", ""]
    assert [t.pos_ for t in doc] == ["", "ADV"]
    assert doc[0].pos == 0 and doc[1].tag == 0
    assert doc.text == "Hi there"


def test_read_conllu_range_space_after(tmp_path):
    path = write(tmp_path / "r.conllu", RANGE_NO_SPACE)
    (doc,) = read_conllu(path, Vocab())
    assert [t.text for t in doc] == ["He", "wo", "n't", "!"]
    assert doc.text == "He won't! "


def test_read_conllu_no_final_blank_line_and_crlf(tmp_path):
    path = tmp_path / "crlf.conllu"
    path.write_bytes(SAMPLE.rstrip("\n").replace("\n", "\r\n").encode("utf8"))
    docs = list(read_conllu(path, Vocab()))
    assert [d.text for d in docs] == ["I can't go.", "Hi there"]


def test_read_conllu_is_lazy(tmp_path):
    # A bad second sentence must not stop the first from being yielded.
    bad = SAMPLE.replace("1\tHi\thi", "x\tHi\thi")
    docs = read_conllu(write(tmp_path / "b.conllu", bad), Vocab())
    assert next(docs).text == "I can't go."
    with pytest.raises(ValueError):
        next(docs)


@pytest.mark.parametrize(
    "old,new,lineno,words",
    [
        # Wrong column count: a space instead of a tab.
        ("1\tI\tI\tPRON", "1 I\tI\tPRON", 3, "columns"),
        ("4\tgo\tgo", "four\tgo\tgo", 8, "'four'"),
        ("4\tgo\tgo", "5\tgo\tgo", 8, "out of sequence"),
        ("PUNCT\t.\t_\t4", "PUNC\t.\t_\t4", 9, "invalid UPOS 'PUNC'"),
        ("2-3\tcan't", "2-6\tcan't", 4, "range ends at word 6"),
        ("PUNCT\t.\t_\t4", "PUNCT\t.\x0b\t_\t4", 9, "the XPOS '.\\x0b' contains the control character U+000B"),
        ("AUX\tMD\t", "AUX\tMD \t", 5, "the XPOS 'MD ' starts or ends with whitespace"),
        ("AUX\tMD\t", "AUX\t\u2029MD\t", 5, "the XPOS '\\u2029MD' contains the paragraph separator U+2029"),
    ],
)
def test_read_conllu_malformed(tmp_path, old, new, lineno, words):
    assert old in SAMPLE
    path = write(tmp_path / "bad.conllu.gz", SAMPLE.replace(old, new, 1), True)
    with pytest.raises(ValueError) as excinfo:
        list(read_conllu(path, Vocab()))
    message = str(excinfo.value)
    assert f"line {lineno}:" in message
    assert str(path) in message
    assert words in message


def test_text_that_is_not_utf8_is_named_by_file_and_line(tmp_path):
    latin1 = SAMPLE.replace("4\tgo\tgo", "4\tgö\tgo").encode("latin-1")
    for path in (tmp_path / "latin1.conllu", tmp_path / "latin1.conllu.gz"):
        path.write_bytes(gzip.compress(latin1) if path.suffix == ".gz" else latin1)
        with pytest.raises(ValueError) as err:
            list(read_conllu(path, Vocab()))
        assert str(err.value) == (
            f"{path}, line 8: not UTF-8 text (byte 0xf6 at byte 4 of the line); CoNLL-U files are UTF-8"
        )


def test_a_truncated_or_damaged_gzip_file_is_named(tmp_path):
    data = gzip.compress(("\n".join(SAMPLE.splitlines()[2:9]) + "\n\n").encode("utf8") * 2000)
    cut = tmp_path / "cut.conllu.gz"
    cut.write_bytes(data[: len(data) // 2])
    read = []
    with pytest.raises(ValueError) as err:
        read.extend(read_conllu(cut, Vocab()))
    message = str(err.value)
    # Every sentence before the damage is read; the message names the last line read.
    lines_read = 8 * len(read)
    assert 100 < len(read) < 2000
    assert re.fullmatch(
        re.escape(f"{cut}: the gzip file is truncated or damaged: reading stopped after line ")
        + r"(\d+) \(EOFError: Compressed file ended before the end-of-stream marker was reached\)",
        message,
    )
    assert lines_read <= int(re.search(r"after line (\d+)", message)[1]) < lines_read + 8
    damaged = tmp_path / "damaged.conllu.gz"
    damaged.write_bytes(b"\x1f\x8b" + b"not gzip" * 8)
    with pytest.raises(ValueError, match=f"^{re.escape(str(damaged))}: the gzip file is truncated or damaged: reading stopped before its first line \\(BadGzipFile: "):
        list(read_conllu(damaged, Vocab()))


def test_lines_may_end_in_a_carriage_return_alone(tmp_path):
    path = tmp_path / "cr.conllu"
    path.write_bytes(SAMPLE.replace("\n", "\r").encode("utf8"))
    assert [d.text for d in read_conllu(path, Vocab())] == ["I can't go.", "Hi there"]
    bom = tmp_path / "bom.conllu"
    bom.write_bytes(b"\xef\xbb\xbf" + SAMPLE.encode("utf8"))
    assert [d.text for d in read_conllu(bom, Vocab())] == ["I can't go.", "Hi there"]


def test_read_conllu_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_conllu(tmp_path / "nope.conllu", Vocab())


def test_convert(sample_path, tmp_path):
    out = tmp_path / "out" / "sample.spacy"
    main(["convert", str(sample_path), str(out)])
    docs = list(DocBin().from_disk(out).get_docs(Vocab()))
    assert [d.text for d in docs] == ["I can't go.", "Hi there"]
    assert [t.tag_ for t in docs[0]] == ["PRP", "MD", "RB", "VB", "."]
    assert [t.pos_ for t in docs[1]] == ["", "ADV"]
    assert [t.tag_ for t in docs[1]] == ["UH", ""]


def test_ewt_dir_unset(monkeypatch):
    monkeypatch.delenv("UD_EWT_DIR", raising=False)
    with pytest.raises(FileNotFoundError) as excinfo:
        ewt_dir()
    message = str(excinfo.value)
    assert "UD_EWT_DIR" in message
    assert "en_ewt-ud-" in message
    assert "universaldependencies.org" in message
    assert "github.com/UniversalDependencies/UD_English-EWT" in message


def test_ewt_dir_without_files(monkeypatch, tmp_path):
    monkeypatch.setenv("UD_EWT_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as excinfo:
        ewt_dir()
    message = str(excinfo.value)
    assert str(tmp_path) in message and "UD_EWT_DIR" in message
    assert "en_ewt-ud-train.conllu.gz" in message
    assert "universaldependencies.org" in message
    with pytest.raises(FileNotFoundError, match="data_dir"):
        ewt_dir(tmp_path)


def test_ewt_file_plain_and_argument_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("UD_EWT_DIR", str(tmp_path / "elsewhere"))
    write(tmp_path / "en_ewt-ud-train.conllu", SAMPLE)
    write(tmp_path / "en_ewt-ud-dev.conllu.gz", SAMPLE, True)
    assert ewt_dir(tmp_path) == tmp_path
    assert ewt_file("train", tmp_path) == tmp_path / "en_ewt-ud-train.conllu"
    assert ewt_file("dev", str(tmp_path)) == tmp_path / "en_ewt-ud-dev.conllu.gz"
    with pytest.raises(FileNotFoundError, match="en_ewt-ud-test"):
        ewt_file("test", tmp_path)
    with pytest.raises(ValueError):
        ewt_file("validation", tmp_path)


@pytest.fixture(scope="module")
def ewt_train(ewt):
    # Read once for all train checks: about 2 s.
    return list(read_conllu(ewt_file("train", ewt), Vocab()))


def test_ewt_train_counts(ewt_train):
    assert len(ewt_train) == 12_544
    assert sum(len(doc) for doc in ewt_train) == 204_577


def test_ewt_train_tag_sets(ewt_train):
    tags = {t.tag_ for doc in ewt_train for t in doc}
    pos = {t.pos_ for doc in ewt_train for t in doc}
    # The treebank README says 50 XPOS tags; v2.15 train really has 49
    # (the Penn tags plus ADD, AFX, GW, HYPH, NFP; no XX), and no "_".
    assert len(tags) == 49
    assert "" not in tags
    assert {"NN", "VBZ", "HYPH", "ADD", "-LRB-", "$"} <= tags
    assert len(pos) == 17


def test_ewt_test_counts(ewt):
    n_docs = n_tokens = 0
    for doc in read_conllu(ewt_file("test", ewt), Vocab()):
        n_docs += 1
        n_tokens += len(doc)
    assert (n_docs, n_tokens) == (2_077, 25_094)
