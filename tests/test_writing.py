"""The JSONL records and CoNLL-U sentences of tagged Docs, against output
written out by hand (Docs built and annotated directly, no trained pipeline)."""
import json

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from spacy_lstm_tagger.pipeline.confidence import register_extensions
from spacy_lstm_tagger.tagging.writing import (
    column_value,
    conllu_sentences,
    doc_to_record,
    field_comments,
    write_conllu,
    write_jsonl,
    writer_for,
    written_fields,
)

register_extensions()
VOCAB = spacy.blank("en").vocab  # with is_space (a bare Vocab has no lexical attributes)


def tagged_doc():
    """ "Hello wörld!  Bye." in two sentences, the second space a token of its own."""
    doc = Doc(
        VOCAB,
        words=["Hello", "wörld", "!", "  ", "Bye", "."],
        spaces=[True, False, False, False, False, False],
        tags=["UH", "NN", ".", "_SP", "UH", ""],
        pos=["INTJ", "NOUN", "PUNCT", "SPACE", "INTJ", ""],
        morphs=["", "Number=Sing", "", "", "", ""],
        lemmas=["hello", "wör\tld", "!", "  ", "bye", ""],
        sent_starts=[True, False, False, False, True, False],
    )
    for token, prob in zip(doc, [0.98761, 0.5, float("nan"), None, None, 1.0]):
        token._.tag_prob = prob
    doc[0]._.tag_top_k = [("UH", 0.98761), ("NN", float("inf"))]
    doc[1]._.morph_prob = 0.73456
    doc[2]._.morph_prob = float("nan")
    return doc


def test_conllu_sentences_by_hand():
    doc = tagged_doc()
    assert conllu_sentences(doc, 7, {"id": "d1"}) == (
        "# sent_id = 7-1\n"
        "# text = Hello wörld!\n"
        "# id = d1\n"
        "1\tHello\thello\tINTJ\tUH\t_\t_\t_\t_\tTagProb=0.9876\n"
        "2\twörld\twör ld\tNOUN\tNN\tNumber=Sing\t_\t_\t_\tSpaceAfter=No|TagProb=0.5000|MorphProb=0.7346\n"
        # followed by a space token: no SpaceAfter=No; NaN probabilities are left out
        "3\t!\t!\tPUNCT\t.\t_\t_\t_\t_\t_\n"
        "\n"
        "# sent_id = 7-2\n"
        "# text = Bye.\n"
        "1\tBye\tbye\tINTJ\tUH\t_\t_\t_\t_\tSpaceAfter=No\n"
        # the Doc's last token: nothing follows it in the text
        "2\t.\t_\t_\t_\t_\t_\t_\t_\tTagProb=1.0000\n"
        "\n"
    )


def test_conllu_without_sentences_is_one_sentence():
    doc = Doc(VOCAB, words=["a", "\n", "b"], spaces=[True, False, False])
    assert conllu_sentences(doc, 1) == (
        "# sent_id = 1-1\n"
        "# text = a b\n"
        "1\ta\t_\t_\t_\t_\t_\t_\t_\t_\n"
        "2\tb\t_\t_\t_\t_\t_\t_\t_\t_\n"
        "\n"
    )


def test_conllu_skips_a_sentence_of_spaces_and_gives_its_fields_to_the_next():
    doc = Doc(VOCAB, words=["  ", "Hi"], spaces=[False, False], sent_starts=[True, True])
    assert conllu_sentences(doc, 3, {"id": "x"}) == (
        "# sent_id = 3-2\n"
        "# text = Hi\n"
        "# id = x\n"
        "1\tHi\t_\t_\t_\t_\t_\t_\t_\t_\n"
        "\n"
    )
    assert conllu_sentences(Doc(VOCAB, words=["  "]), 1, {"id": "x"}) == ""


def test_write_conllu_to_a_file(tmp_path):
    path = tmp_path / "out.conllu"
    with open(path, "w", encoding="utf-8") as out:
        write_conllu(out, Doc(Vocab(), words=["Hi"], spaces=[False]), 2, {"id": "x"})
        write_conllu(out, Doc(Vocab(), words=["Yo"], spaces=[False]), 3)
    assert path.read_text(encoding="utf-8") == (
        "# sent_id = 2-1\n# text = Hi\n# id = x\n1\tHi\t_\t_\t_\t_\t_\t_\t_\t_\n\n"
        "# sent_id = 3-1\n# text = Yo\n1\tYo\t_\t_\t_\t_\t_\t_\t_\t_\n\n"
    )


def test_field_comments():
    fields = {
        "id": "doc-1", "sent_id": "s", "text": "t", "newdoc": "1", "newpar": "2", "newdoc id": "x",
        "bad key": 1, "1abc": 2, "a.b-c_d": 3, "note": "two\nlines", "cr": "a\rb",
        "list": [1, "é"], "flag": True, "none": None,
    }
    assert field_comments(fields) == [
        "# id = doc-1",
        "# a.b-c_d = 3",
        '# note = "two\\nlines"',
        '# cr = "a\\rb"',
        '# list = [1, "é"]',
        "# flag = true",
        "# none = null",
    ]


def test_column_value():
    assert column_value("") == "_"
    assert column_value("a\tb\nc\r\u2028d") == "a b c  d"
    assert column_value("Case=Nom|Number=Sing") == "Case=Nom|Number=Sing"


def test_doc_to_record_by_hand():
    doc = tagged_doc()
    record = doc_to_record(doc, 4, {"id": "d1", "meta": {"a": 1}}, extra=("morph", "lemma"))
    assert list(record) == ["line", "text", "id", "meta", "tokens"]
    assert record["line"] == 4 and record["text"] == "Hello wörld!  Bye."
    assert record["id"] == "d1" and record["meta"] == {"a": 1}
    assert record["tokens"][:3] == [
        {"text": "Hello", "tag": "UH", "pos": "INTJ", "morph": "", "lemma": "hello", "prob": 0.9876,
         "top_k": [["UH", 0.9876], ["NN", None]], "morph_prob": None},
        {"text": "wörld", "tag": "NN", "pos": "NOUN", "morph": "Number=Sing", "lemma": "wör\tld",
         "prob": 0.5, "morph_prob": 0.7346},
        {"text": "!", "tag": ".", "pos": "PUNCT", "morph": "", "lemma": "!", "prob": None, "morph_prob": None},
    ]
    assert record["tokens"][5] == {
        "text": ".", "tag": "", "pos": "", "morph": "", "lemma": "", "prob": 1.0, "morph_prob": None,
    }
    assert [list(t) for t in record["tokens"]][1] == ["text", "tag", "pos", "morph", "lemma", "prob", "morph_prob"]
    plain = doc_to_record(doc, 4)
    assert list(plain) == ["line", "text", "tokens"]
    assert plain["tokens"][1] == {"text": "wörld", "tag": "NN", "pos": "NOUN", "prob": 0.5}
    assert doc_to_record(doc, 4, extra=("lemma",))["tokens"][1] == {
        "text": "wörld", "tag": "NN", "pos": "NOUN", "lemma": "wör\tld", "prob": 0.5,
    }


def test_write_jsonl_line_by_hand(tmp_path):
    doc = Doc(Vocab(), words=["Olá", "!"], spaces=[False, False], tags=["UH", "."], lemmas=["olá", "!"])
    doc[0]._.tag_prob = 0.123456
    path = tmp_path / "out.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        write_jsonl(out, doc, 1, {"id": "é"}, extra=("lemma",))
        write_jsonl(out, doc, 2)
    assert path.read_text(encoding="utf-8") == (
        '{"line": 1, "text": "Olá!", "id": "é", "tokens": ['
        '{"text": "Olá", "tag": "UH", "pos": "", "lemma": "olá", "prob": 0.1235}, '
        '{"text": "!", "tag": ".", "pos": "", "lemma": "!", "prob": null}]}\n'
        '{"line": 2, "text": "Olá!", "tokens": ['
        '{"text": "Olá", "tag": "UH", "pos": "", "prob": 0.1235}, '
        '{"text": "!", "tag": ".", "pos": "", "prob": null}]}\n'
    )


def test_write_jsonl_refuses_a_nan_field(tmp_path):
    # NaN is not JSON: an input field of NaN is an error, not a line no reader takes
    with open(tmp_path / "out.jsonl", "w", encoding="utf-8") as out:
        with pytest.raises(ValueError):
            write_jsonl(out, Doc(Vocab(), words=["a"]), 1, {"score": float("nan")})


@Language.component("writes_lemmas_for_tests", assigns=["token.lemma", "doc.cats"])
def writes_lemmas(doc):
    for token in doc:
        token.lemma_ = token.text.lower()
    return doc


@Language.component("writes_features_for_tests", assigns=["token.morph", "token.pos"])
def writes_features(doc):
    return doc


def test_written_fields():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"annotate": ["tag"]})
    assert written_fields(nlp) == ()
    nlp.add_pipe("writes_lemmas_for_tests")
    assert written_fields(nlp) == ("lemma",)
    nlp.add_pipe("writes_features_for_tests")
    assert written_fields(nlp) == ("morph", "lemma")
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"annotate": ["tag", "lemma"]})
    assert written_fields(nlp) == ("lemma",)


def test_writer_for(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("writes_lemmas_for_tests")
    doc = nlp(Doc(nlp.vocab, words=["Hi"], spaces=[False]))
    path = tmp_path / "out.txt"
    with open(path, "w", encoding="utf-8") as out:
        writer_for("jsonl", nlp)(out, doc, 1, None)
        writer_for("conllu", nlp)(out, doc, 1, None)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert json.loads(lines[0]) == {
        "line": 1, "text": "Hi", "tokens": [{"text": "Hi", "tag": "", "pos": "", "lemma": "hi", "prob": None}],
    }
    assert lines[1:] == ["# sent_id = 1-1", "# text = Hi", "1\tHi\thi\t_\t_\t_\t_\t_\t_\t_", "", ""]
