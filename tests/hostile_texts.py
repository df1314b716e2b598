"""Hostile texts, tagged in a process of their own so that its peak memory can be
measured: `python tests/hostile_texts.py` prints one JSON line.

The model has the default size of the component's default config and is
initialized on a small corpus; the texts are mostly unknown to it.
"""
import json
import resource
import sys

import spacy
from spacy.tokens import Doc
from spacy.training import Example

TRAIN_DATA = [
    ("The dog ate the apple .".split(), "DET NN V DET NN PUNCT".split()),
    ("Everybody read that book !".split(), "NN V DET NN PUNCT".split()),
]
LONG = 100_000


def hostile_docs(nlp):
    """(name, Doc) pairs: odd text of every kind, and a very long Doc and token."""
    vocab = nlp.vocab

    def words(*ws):
        return Doc(vocab, words=list(ws))

    texts = {
        "empty_text": "",
        "whitespace_text": "  \n\t  \u00a0 \u2003\u3000 \n",
        "punctuation": "!!! ... ??? --- ,,, ;;; ()[]{} «» “” — ¿¡ …",
        "emoji": "😀 👍🏽 👨‍👩‍👧‍👦 🇺🇸 ❤️ 🏳️‍🌈 😀😀😀",
        "cjk": "東京は日本の首都です。 我爱北京天安门 한국어 텍스트 ｆｕｌｌｗｉｄｔｈ",
        "rtl": "שלום עולם مرحبا بالعالم \u202eevil\u202c \u200fmark\u200e",
        "combining": "e\u0301 a\u0308\u0308\u0308\u0308 Z\u0351\u0352\u0357\u0358\u0359 \u0915\u094d\u0937",
        "control": "a\x00b \x01\x02\x1b[31m \x7f \u2028 \ufeff x\x00 \x00",
    }
    docs = [(name, nlp.make_doc(text)) for name, text in texts.items()]
    docs += [
        ("empty_doc", words()),
        ("whitespace_tokens", words(" ", "\t", "\n\n", "\u00a0", "\u2003", "\u200b", "\r\n")),
        ("punctuation_tokens", words(".", "!", "?", "...", "—", "«", "»")),
        ("nul_tokens", words("\x00", "\x00\x00", "\x1b", "\ufffd", "\x00a\x00")),
        # Every token a different word: the worst case for the character features.
        ("long_doc", Doc(vocab, words=[f"w{i:x}q{i * 7919 % 100003}" for i in range(LONG)])),
        ("long_token", words("ab\u00e9\U0001F600" * (LONG // 4))),
        ("long_token_in_text", words("before", "x" * LONG, "after")),
    ]
    return docs


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(only=()):
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("lstm_tagger")  # the default config: the default model size
    examples = [
        Example(Doc(nlp.vocab, words=w), Doc(nlp.vocab, words=w, tags=t))
        for w, t in TRAIN_DATA
    ]
    nlp.initialize(lambda: examples)
    labels = set(tagger.labels)
    cases = [(n, d) for n, d in hostile_docs(nlp) if not only or n in only]
    loaded_mb = peak_mb()
    results = {}

    def count(name, doc):
        tags = [t.tag_ for t in doc]
        results[name] = {
            "tokens": len(doc),
            "tagged": sum(tag in labels for tag in tags),
            "unknown": sorted(set(tags) - labels)[:5],
        }

    # One at a time, then all in one batch.
    for name, doc in cases:
        count(name, nlp(doc.copy()))
    for (name, _), doc in zip(cases, nlp.pipe(doc for _, doc in cases)):
        count("batch_" + name, doc)
    print(json.dumps({"loaded_mb": loaded_mb, "peak_mb": peak_mb(), "results": results}))


if __name__ == "__main__":
    main(sys.argv[1:])
