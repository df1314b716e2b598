"""Docs -> index arrays: every token gets its own word's and characters' rows."""
import numpy
import pytest
import spacy
import srsly
from spacy.tokens import Doc

from spacy_lstm_tagger.pipeline.featurize import (
    IndexTables,
    Segment,
    clip_word,
    cut_segments,
    featurize,
    split_by_tokens,
)
from spacy_lstm_tagger.pipeline.network import PAD, UNKNOWN


def test_each_token_gets_its_word_and_character_rows_in_doc_order():
    nlp = spacy.blank("en")
    tables = IndexTables(["<pad>", "<unk>", "the", "dog", "ate"], ["<pad>", "<unk>", *"Tdheotag"])
    texts = ["The dog ate the extraordinarily long word", "dog", "", "Zyxx 😀 \u0000 東京 the dog"]
    docs = [nlp.make_doc(text) for text in texts]
    segments, token_order = cut_segments(docs, max_sequence=3)
    assert [len(s.orths) for s in segments] == sorted(len(s.orths) for s in segments)
    batch = featurize(segments, tables, max_word_chars=6)
    is_token = numpy.arange(batch.word_ids.shape[1]) < batch.lengths[:, None]
    # Tokens read row by row, put back in Doc order with token_order.
    word_ids = batch.word_ids[is_token][token_order]
    chars = batch.type_chars[batch.type_ids[is_token]][token_order]
    words = [token.text for doc in docs for token in doc]
    assert word_ids.tolist() == [tables.word_index.get(w.lower(), UNKNOWN) for w in words]
    for word, row in zip(words, chars):
        clipped = clip_word(word, 6)
        expected = [tables.char_index.get(c, UNKNOWN) for c in clipped]
        assert row.tolist() == expected + [PAD] * (len(row) - len(clipped))
    assert (batch.word_ids[~is_token] == PAD).all()


def test_long_docs_are_cut_into_rows_of_max_sequence_tokens():
    nlp = spacy.blank("en")
    docs = [nlp.make_doc("a b c d e f g"), nlp.make_doc("h i")]
    segments, token_order = cut_segments(docs, max_sequence=3)
    rows = [[nlp.vocab.strings[orth] for orth in s.orths.tolist()] for s in segments]
    # Rows by length, the shortest first, rows of equal length in Doc order.
    assert rows == [["g"], ["h", "i"], ["a", "b", "c"], ["d", "e", "f"]]
    # Where each token of "a b c d e f g", "h i" is among the rows' tokens read row by row.
    assert token_order.tolist() == [3, 4, 5, 6, 7, 8, 0, 1, 2]
    assert [[nlp.vocab.strings[s.orths[0]] for s in cut_segments([d], 2)[0]] for d in docs] == [
        ["g", "a", "c", "e"], ["h"]
    ]


def test_a_long_docs_predictions_are_those_of_its_segments(toy_pipeline):
    words = "The dog ate the apple Everybody read that".split()
    cut = spacy.load(toy_pipeline, config={"components": {"lstm_tagger": {"model": {"max_sequence": 3}}}})
    tagger = cut.get_pipe("lstm_tagger")
    (whole,) = tagger.predict([Doc(cut.vocab, words=words)])
    # Tokens 0-2, 3-5 and 6-7, each as a Doc of its own.
    parts = tagger.predict([Doc(cut.vocab, words=words[i : i + 3]) for i in (0, 3, 6)])
    numpy.testing.assert_allclose(whole, numpy.concatenate(parts), rtol=1e-5, atol=1e-6)
    uncut = spacy.load(toy_pipeline).get_pipe("lstm_tagger")
    (in_one_row,) = uncut.predict([Doc(cut.vocab, words=words)])
    assert not numpy.allclose(whole, in_one_row, atol=1e-3)  # the cut changes the context


def test_a_batch_of_empty_docs_is_one_padding_cell():
    nlp = spacy.blank("en")
    tables = IndexTables(["<pad>", "<unk>", "dog"], ["<pad>", "<unk>", "d"])
    segments, token_order = cut_segments([nlp.make_doc(""), nlp.make_doc("")], max_sequence=3)
    assert segments == [] and token_order.tolist() == []
    batch = featurize(segments, tables, max_word_chars=6)
    assert batch.lengths.tolist() == [0]
    assert batch.word_ids.tolist() == [[PAD]] and batch.type_ids.tolist() == [[0]]
    assert batch.type_chars.tolist() == [[PAD]]


def test_one_row_of_one_letter_words():
    nlp = spacy.blank("en")
    tables = IndexTables(["<pad>", "<unk>", "a"], ["<pad>", "<unk>", "a"])
    segments, _ = cut_segments([nlp.make_doc("a b a")], max_sequence=5)
    batch = featurize(segments, tables, max_word_chars=6)
    assert batch.lengths.tolist() == [3]
    assert batch.word_ids.tolist() == [[2, UNKNOWN, 2]]
    # Padding, "a" and "b": one character each, so one column.
    assert batch.type_chars[batch.type_ids].tolist() == [[[2], [UNKNOWN], [2]]]
    assert batch.type_chars.shape == (3, 1) and batch.type_chars[0].tolist() == [PAD]


def rows_of(lengths):
    return [Segment(numpy.zeros(n, dtype="uint64"), None) for n in lengths]


@pytest.mark.parametrize(
    "lengths,parts",
    [
        ([1, 2, 2, 4, 6], [[1, 2, 2], [4], [6]]),  # 5 tokens fill a part exactly
        ([3, 3, 2, 5], [[3], [3, 2], [5]]),  # and after a new part starts
        ([2, 2, 2], [[2, 2], [2]]),
        ([7, 1], [[7], [1]]),  # a row longer than max_tokens is a part of its own
        ([], [[]]),
    ],
)
def test_rows_are_split_into_runs_of_at_most_max_tokens(lengths, parts):
    split = split_by_tokens(rows_of(lengths), max_tokens=5)
    assert [[len(s.orths) for s in part] for part in split] == parts


def test_tables_from_docs_keep_words_seen_min_word_count_times_and_every_character():
    nlp = spacy.blank("en")
    docs = [nlp.make_doc("The the dog"), nlp.make_doc("Dog cat")]
    tables = IndexTables.from_docs(docs, min_word_count=2)
    assert tables.words == ["<pad>", "<unk>", "dog", "the"]  # "cat" is seen once
    assert tables.chars == ["<pad>", "<unk>", "D", "T", "a", "c", "d", "e", "g", "h", "o", "t"]


def test_char_rows_finds_each_character_or_unknown():
    tables = IndexTables(["<pad>", "<unk>"], ["<pad>", "<unk>", "c", "a", "é", "😀"])
    rows = tables.char_rows("cab😀é\u0000\U0010ffff\ud800")
    assert rows.tolist() == [2, 3, UNKNOWN, 5, 4, UNKNOWN, UNKNOWN, UNKNOWN]
    assert IndexTables(["<pad>", "<unk>"], ["<pad>", "<unk>"]).char_rows("ab").tolist() == [UNKNOWN] * 2


def test_tables_are_saved_as_msgpack_and_read_back():
    tables = IndexTables(["<pad>", "<unk>", "dog"], ["<pad>", "<unk>", "d", "o"])
    data = tables.to_bytes()
    assert srsly.msgpack_loads(data) == {"words": ["<pad>", "<unk>", "dog"], "chars": ["<pad>", "<unk>", "d", "o"]}
    read = IndexTables.from_bytes(data)
    assert (read.words, read.chars, read.word_index) == (tables.words, tables.chars, {"<pad>": 0, "<unk>": 1, "dog": 2})
    assert read.char_rows("dog").tolist() == [2, 3, UNKNOWN]
    empty = IndexTables.from_bytes(IndexTables().to_bytes())
    assert not empty.is_built and (empty.words, empty.chars) == ([], [])


RESERVED = ["<pad>", "<unk>"]


@pytest.mark.parametrize(
    "data,message",
    [
        (b"\xc1", "index tables are damaged or truncated ("),
        (IndexTables(RESERVED + ["dog"], RESERVED).to_bytes()[:-3], "index tables are damaged or truncated ("),
        (srsly.msgpack_dumps([RESERVED, RESERVED]), "index tables are damaged: expected lists of strings"),
        (srsly.msgpack_dumps({"words": RESERVED}), "index tables are damaged: expected lists of strings"),
        (srsly.msgpack_dumps({"chars": RESERVED}), "index tables are damaged: expected lists of strings"),
        (srsly.msgpack_dumps({"words": RESERVED, "chars": "<pad><unk>"}), "index tables are damaged: expected lists of strings"),
        (srsly.msgpack_dumps({"words": RESERVED + [7], "chars": RESERVED}), "index tables are damaged: expected lists of strings"),
        (srsly.msgpack_dumps({"words": RESERVED, "chars": RESERVED + [None]}), "index tables are damaged: expected lists of strings"),
        (srsly.msgpack_dumps({"words": ["dog", "<pad>", "<unk>"], "chars": RESERVED}), "index tables are damaged: reserved rows are missing"),
        (srsly.msgpack_dumps({"words": RESERVED, "chars": ["<unk>", "<pad>"]}), "index tables are damaged: reserved rows are missing"),
    ],
)
def test_damaged_tables_are_refused_naming_the_damage(data, message):
    with pytest.raises(ValueError) as info:
        IndexTables.from_bytes(data)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    "word,max_chars,clipped",
    [("extraordinarily", 6, "extily"), ("abcdefgh", 5, "abfgh"), ("abcdef", 6, "abcdef"), ("ab", 6, "ab")],
)
def test_a_long_word_keeps_its_beginning_and_end(word, max_chars, clipped):
    assert clip_word(word, max_chars) == clipped
