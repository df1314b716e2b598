"""Docs -> index arrays: every token gets its own word's and characters' rows."""
import numpy
import spacy
from spacy.tokens import Doc

from spacy_lstm_tagger.pipeline.featurize import IndexTables, clip_word, cut_segments, featurize
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
