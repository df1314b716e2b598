"""Docs -> index arrays: every token gets its own word's and characters' rows."""
import numpy
import spacy

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
