"""`python -m spacy_lstm_tagger evaluate`: its numbers against a direct count,
the self-contained HTML report, and the report in a real browser."""
import base64
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_lstm_tagger.evaluation import figures
from spacy_lstm_tagger.evaluation.evaluate import evaluate
from spacy_lstm_tagger.pipeline.component import score_tagger
from spacy_lstm_tagger.evaluation.report import Markup, html_report, table, text_summary
from spacy_lstm_tagger.pipeline.calibration import reliability
from spacy_lstm_tagger.cli import run as main
from spacy_lstm_tagger.data.treebank import ewt_file
from spacy_lstm_tagger.data.corpus import read_docs, write_docbin
from spacy_lstm_tagger.configs import CONFIG_DIR
from spacy_lstm_tagger.training.options import TrainingOptions
from spacy_lstm_tagger.training.runs import train_files

from helpers import SMALL_MODEL, TOY_DATA

# The toy sentences, one with words the toy model never saw, and one whose gold
# tags the model cannot all get right, so that there are errors to count.
GOLD = TOY_DATA + [
    ("The cat ate that pizza".split(), "DET NN V DET NN".split()),
    ("Everybody ate the dog".split(), "NN V V NN".split()),
]
EMBEDDED_PNG = re.compile(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def write_conllu(path, sentences):
    lines = []
    for words, tags in sentences:
        lines += [f"{i}\t{w}\t_\t_\t{t}\t_\t_\t_\t_\t_" for i, (w, t) in enumerate(zip(words, tags), 1)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_evaluate(capsys, *args):
    main(["evaluate", *map(str, args)])
    return capsys.readouterr().out


def direct_count(nlp, sentences, seen_words, tag):
    """Accuracy, seen/unseen accuracy and one tag's F1, counted by hand."""
    pairs = []  # (word, gold, predicted)
    for words, gold in sentences:
        doc = nlp(Doc(nlp.vocab, words=words))
        pairs += [(w, g, t.tag_) for w, g, t in zip(words, gold, doc)]

    def accuracy(rows):
        return sum(g == p for _, g, p in rows) / len(rows)

    tp = sum(g == p == tag for _, g, p in pairs)
    fp = sum(p == tag != g for _, g, p in pairs)
    fn = sum(g == tag != p for _, g, p in pairs)
    return {
        "accuracy": accuracy(pairs),
        "seen": accuracy([r for r in pairs if r[0].lower() in seen_words]),
        "unseen": accuracy([r for r in pairs if r[0].lower() not in seen_words]),
        "n_unseen": sum(r[0].lower() not in seen_words for r in pairs),
        "f1": 2 * tp / (2 * tp + fp + fn),
    }


def embedded_pngs(page):
    images = dict(EMBEDDED_PNG.findall(page))
    for alt, data in images.items():
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n"), alt
    return images


def test_evaluate_toy_model_matches_a_direct_count(toy_pipeline, tmp_path, capsys):
    gold = write_conllu(tmp_path / "gold.conllu", GOLD)
    out = run_evaluate(
        capsys, toy_pipeline, gold, "--json", tmp_path / "r.json", "--report", tmp_path / "r.html"
    )
    report = json.loads((tmp_path / "r.json").read_text())
    expected = direct_count(
        spacy.load(toy_pipeline), GOLD, {w.lower() for words, _ in TOY_DATA for w in words}, "NN"
    )
    assert report["tokens"] == sum(len(words) for words, _ in GOLD)
    assert report["accuracy"]["tag"] == pytest.approx(expected["accuracy"])
    assert report["accuracy"]["tag"] < 1.0  # the errors are there to be counted
    assert report["seen"]["seen"]["accuracy"] == pytest.approx(expected["seen"])
    assert report["seen"]["unseen"]["accuracy"] == pytest.approx(expected["unseen"])
    assert report["seen"]["unseen"]["tokens"] == expected["n_unseen"] == 2  # cat, pizza
    nn = next(row for row in report["per_tag"] if row["tag"] == "NN")
    assert nn["f1"] == pytest.approx(expected["f1"])
    assert f"tag (XPOS) accuracy {expected['accuracy']:.4f}" in out
    # "Everybody ate the dog": the gold says the/V, which the model calls DET.
    assert {"word": "the", "gold": "V", "predicted": "DET"}.items() <= report["errors"][0].items()
    assert report["errors"][0]["context"] == {"before": "Everybody ate", "word": "the", "after": "dog"}
    page = (tmp_path / "r.html").read_text()
    assert set(embedded_pngs(page)) == {
        "accuracy by word group", "confusion heatmap", "reliability diagram",
        "accuracy against the share of tokens kept",
    }
    assert "http" not in page  # nothing to fetch: it views offline


def test_compare_counts_where_each_pipeline_wins(toy_pipeline, tmp_path, capsys):
    # A rule tagger: "the" and "that" are DET, every other word NN.
    other = spacy.blank("en")
    ruler = other.add_pipe("attribute_ruler")
    ruler.add([[{"TEXT": {"REGEX": ".*"}}]], {"TAG": "NN"})
    ruler.add([[{"LOWER": {"IN": ["the", "that"]}}]], {"TAG": "DET"})
    other.to_disk(tmp_path / "rules")
    gold = write_conllu(tmp_path / "gold.conllu", GOLD)
    out = run_evaluate(capsys, toy_pipeline, gold, "--compare", tmp_path / "rules",
                       "--json", tmp_path / "r.json", "--report", tmp_path / "r.html")
    compare = json.loads((tmp_path / "r.json").read_text())["compare"]
    ours = spacy.load(toy_pipeline)
    only_ours = only_other = 0
    for words, tags in GOLD:
        for gold_tag, a, b in zip(tags, ours(Doc(ours.vocab, words=words)), other(Doc(other.vocab, words=words))):
            only_ours += a.tag_ == gold_tag != b.tag_
            only_other += b.tag_ == gold_tag != a.tag_
    assert (compare["only_ours_right"], compare["only_other_right"]) == (only_ours, only_other)
    assert only_ours > 0  # the verbs
    v = next(row for row in compare["per_tag"] if row["tag"] == "V")
    assert v["other_f1"] == 0.0 and v["only_other_right"] == 0
    assert f"only ours right {only_ours:,} tokens, only theirs {only_other:,}" in out
    assert "per-tag F1 of both" in embedded_pngs((tmp_path / "r.html").read_text())


def test_without_matplotlib_the_report_says_what_is_missing(toy_pipeline, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(figures, "available", lambda: False)
    gold = write_conllu(tmp_path / "gold.conllu", GOLD)
    out = run_evaluate(capsys, toy_pipeline, gold, "--report", tmp_path / "r.html", "--json", tmp_path / "r.json")
    page = (tmp_path / "r.html").read_text()
    assert "<img" not in page
    assert 'Figures missing.</b> matplotlib is not installed' in page
    assert page.count('pip install &quot;spacy-lstm-tagger[report]&quot;') >= 4
    assert "tag (XPOS) accuracy" in out and json.loads((tmp_path / "r.json").read_text())["tokens"]


def test_gold_tags_the_model_does_not_know_are_warned_about(toy_pipeline, tmp_path, capsys):
    # UPOS gold for a model that knows DET, NN and V: 6 of the 9 tokens are unknown tags.
    upos = [("The dog ate the apple".split(), "DET NOUN VERB DET NOUN".split()),
            ("Everybody read that book".split(), "PRON VERB DET NOUN".split())]
    gold = write_conllu(tmp_path / "gold.conllu", upos)
    out = run_evaluate(capsys, toy_pipeline, gold, "--json", tmp_path / "r.json", "--report", tmp_path / "r.html")
    warning = (
        "67% of the gold tokens (6 of 9) carry tags the model does not know (most often: NOUN, "
        "VERB, PRON); the model's tags are DET, NN, V: does the gold corpus use the model's tag set?"
    )
    assert out.splitlines()[0] == f"warning: {warning}"
    assert json.loads((tmp_path / "r.json").read_text())["warnings"] == [warning]
    assert f"<b>Warning.</b> {html.escape(warning)}" in (tmp_path / "r.html").read_text()
    # The toy model's own tag set: no warning.
    out = run_evaluate(capsys, toy_pipeline, write_conllu(tmp_path / "toy.conllu", GOLD))
    assert "warning" not in out


def test_a_missing_gold_file_is_a_clear_error(toy_pipeline, tmp_path, run_python):
    result = run_python(
        "-m", "spacy_lstm_tagger", "evaluate", toy_pipeline, tmp_path / "nope.conllu", check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: corpus file not found: {tmp_path / 'nope.conllu'}"


def test_a_gold_corpus_without_tags_is_a_clear_error(toy_pipeline, tmp_path, run_python):
    untagged = write_conllu(tmp_path / "untagged.conllu", [(words, ["_"] * len(words)) for words, _ in GOLD])
    result = run_python("-m", "spacy_lstm_tagger", "evaluate", toy_pipeline, untagged, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: the gold corpus has no tagged tokens (4 sentences, no XPOS tags)"


def test_a_tag_that_looks_like_math_is_drawn_as_text(toy_pipeline, tmp_path, capsys):
    # matplotlib would read $...$ as mathtext, and "\\frac" without arguments fails there.
    gold = write_conllu(tmp_path / "gold.conllu", [("The dog ate the apple".split(), ["DET", "$\\frac$", "V", "DET", "$x"])])
    run_evaluate(capsys, toy_pipeline, gold, "--report", tmp_path / "r.html", "--compare", toy_pipeline)
    page = (tmp_path / "r.html").read_text()
    assert {"confusion heatmap", "per-tag F1 of both"} <= set(embedded_pngs(page))
    assert '<td class="text">$\\frac$</td>' in page


def write_training_log(folder, **row):
    folder.mkdir()
    log = {"epochs": [{"epoch": 1, "loss": 2.5, "tag_acc": 0.5, "seconds": 1.0, **row}]}
    (folder / "training-log.json").write_text(json.dumps(log), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "row, problem",
    [
        ({"seconds": "<script>alert(1)</script>"}, """'seconds' is "<script>alert(1)</script>", not a number"""),
        ({"loss": "much"}, """'loss' is "much", not a number"""),
        ({"tag_acc": True}, "'tag_acc' is true, not a number"),
        ({"calibration": {"lstm_tagger": {"temperature": "<b>"}}},
         """'calibration.lstm_tagger.temperature' is "<b>", not a number"""),
    ],
)
def test_a_training_log_with_a_non_number_is_a_clear_error(toy_pipeline, tmp_path, capsys, row, problem):
    folder = write_training_log(tmp_path / "training", **row)
    gold = write_conllu(tmp_path / "gold.conllu", GOLD)
    expected = f"{folder / 'training-log.json'}: epoch row 0 (epoch 1): {problem}"
    with pytest.raises(ValueError) as err:
        run_evaluate(capsys, toy_pipeline, gold, "--training", folder, "--report", tmp_path / "r.html")
    assert str(err.value) == expected
    assert not (tmp_path / "r.html").exists()


def test_every_table_cell_of_the_report_is_escaped(toy_pipeline, tmp_path, capsys):
    # Every table: a tag, a gold word and the training log's numbers (null is "-").
    folder = write_training_log(tmp_path / "training", seconds=None, pos_acc=None)
    gold = write_conllu(tmp_path / "gold.conllu", [("<i>dog</i> ate".split(), ["<script>", "V"])])
    run_evaluate(capsys, toy_pipeline, gold, "--training", folder, "--report", tmp_path / "r.html",
                 "--compare", toy_pipeline)
    page = (tmp_path / "r.html").read_text()
    assert "<i>" not in page and page.count("<script>") == 1  # the page's own sorting script
    assert '<td class="text">&lt;script&gt;</td>' in page
    assert "&lt;i&gt;dog&lt;/i&gt;" in page
    assert "<td>2.5000</td>" in page and "None" not in page
    # A cell is text unless it is the report's own markup.
    cells = table(["<b>"], [["<script>", Markup("<mark>x</mark>")]], text_columns=())
    assert "<th>&lt;b&gt;</th>" in cells and "<td>&lt;script&gt;</td><td><mark>x</mark></td>" in cells


# A copy of the report with a probe put first: it records script errors and
# each image's decoded width into the DOM, which --dump-dom then prints.
PROBE = """<script>
window.addEventListener("error", function (e) {
  document.documentElement.setAttribute("data-errors",
    (document.documentElement.getAttribute("data-errors") || "") + e.message + ";");
});
window.addEventListener("load", function () {
  document.documentElement.setAttribute("data-image-widths",
    Array.prototype.map.call(document.images, function (i) { return i.naturalWidth; }).join(","));
});
</script>"""


def test_report_renders_in_headless_chromium(toy_pipeline, tmp_path, capsys):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed and could not be (.ci/run installs the "
                    "system package: apt-get install chromium)")
    gold = write_conllu(tmp_path / "gold.conllu", GOLD)
    run_evaluate(capsys, toy_pipeline, gold, "--report", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    (tmp_path / "probed.html").write_text(page.replace("<head>", "<head>" + PROBE, 1))
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--dump-dom", (tmp_path / "probed.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    dom = result.stdout
    assert result.returncode == 0, result.stderr
    root = re.search(r"<html[^>]*>", dom).group(0)  # where the probe wrote
    assert "data-errors" not in root, root
    widths = re.search(r'data-image-widths="([^"]*)"', root).group(1).split(",")
    assert len(widths) == len(embedded_pngs(page)) == 4
    assert all(int(w) > 100 for w in widths), widths  # every picture decoded
    # The sorting script ran to its end on the table that has it.
    assert dom.count('data-sortable="ready"') == 1


@pytest.mark.slow
def test_evaluate_on_an_ewt_slice_matches_a_direct_count(ewt, tmp_path, capsys):
    # A small model trained briefly on 300 sentences: far from good, which
    # leaves plenty of errors and unseen words to count.
    nlp = spacy.blank("en")
    train_docs = read_docs(ewt_file("train", ewt), nlp.vocab)[:300]
    dev_docs = read_docs(ewt_file("dev", ewt), nlp.vocab)[:150]
    write_docbin(train_docs, tmp_path / "train.spacy")
    write_docbin(dev_docs, tmp_path / "dev.spacy")
    # The toy config's small model and high learning rate, with UPOS as for EWT.
    best = train_files(CONFIG_DIR / "toy.cfg", tmp_path / "out", tmp_path / "train.spacy", tmp_path / "dev.spacy", options=TrainingOptions(epochs=3, seed=0, log=lambda _: None, overrides={"components.lstm_tagger.predict_pos": True}))
    run_evaluate(capsys, best, tmp_path / "dev.spacy", "--training", tmp_path / "out",
                 "--json", tmp_path / "r.json", "--report", tmp_path / "r.html")
    report = json.loads((tmp_path / "r.json").read_text())

    gold = [([t.text for t in doc], [t.tag_ for t in doc]) for doc in dev_docs]
    training_words = {t.text.lower() for doc in train_docs for t in doc}
    expected = direct_count(spacy.load(best), gold, training_words, "NN")
    # 0.38 here after three epochs; tagging everything NN scores about 0.11.
    assert 0.3 < report["accuracy"]["tag"] < 0.95
    assert report["accuracy"]["tag"] == pytest.approx(expected["accuracy"])
    assert report["seen"]["seen"]["accuracy"] == pytest.approx(expected["seen"])
    assert report["seen"]["unseen"]["accuracy"] == pytest.approx(expected["unseen"])
    assert report["seen"]["unseen"]["tokens"] == expected["n_unseen"]
    nn = next(row for row in report["per_tag"] if row["tag"] == "NN")
    assert nn["f1"] == pytest.approx(expected["f1"])
    assert report["frequency_bands"][0]["band"] == "0"  # counted in the training corpus
    assert report["frequency_bands"][0]["tokens"] == expected["n_unseen"]
    assert len(report["training"]) == 3
    assert set(embedded_pngs((tmp_path / "r.html").read_text())) == {
        "accuracy by word group", "confusion heatmap", "reliability diagram",
        "accuracy against the share of tokens kept", "training curves",
    }


# Gold tags written by hand, and what the pipeline below predicts for each word
# (a rule after the lstm_tagger fixes it), so that every figure can be counted
# by hand. "cat" and "pizza" are not in the toy model's word table.
HAND_GOLD = [
    ("The dog ate the apple".split(), "DET NN V DET NN".split()),  # all right
    ("Everybody read that book".split(), "NN V NN NN".split()),  # that: NN -> DET
    ("The cat ate that pizza".split(), "DET NN V DET NN".split()),  # pizza: NN -> V
    ("Everybody ate the dog".split(), "NN V V NN".split()),  # the: V -> DET
    ("Everybody read that book".split(), "NN V NN NN".split()),  # that: NN -> DET
]
HAND_PREDICTED = {
    "the": "DET", "that": "DET", "dog": "NN", "apple": "NN", "book": "NN", "cat": "NN",
    "everybody": "NN", "ate": "V", "read": "V", "pizza": "V",
}


def test_evaluate_figures_match_a_count_by_hand(toy_pipeline, tmp_path, capsys):
    nlp = spacy.load(toy_pipeline)
    ruler = nlp.add_pipe("attribute_ruler", last=True)
    for word, tag in HAND_PREDICTED.items():
        ruler.add([[{"LOWER": word}]], {"TAG": tag})
    nlp.to_disk(tmp_path / "ruled")
    gold = write_conllu(tmp_path / "gold.conllu", HAND_GOLD)
    run_evaluate(capsys, tmp_path / "ruled", gold, "--json", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    # 22 tokens, 4 wrong; unseen: cat (right) and pizza (wrong).
    assert (report["tokens"], report["sentences"]) == (22, 5)
    assert report["accuracy"]["tag"] == pytest.approx(18 / 22)
    assert report["seen"] == {
        "seen": {"tokens": 20, "accuracy": pytest.approx(17 / 20)},
        "unseen": {"tokens": 2, "accuracy": pytest.approx(1 / 2)},
    }
    # Gold NN 12, DET 4, V 6; predicted DET 7, NN 9, V 6.
    # NN: tp 9, fp 0, fn 3. DET: tp 4, fp 3, fn 0. V: tp 5, fp 1 (pizza), fn 1 (the).
    # Sorted by errors, then support.
    assert report["per_tag"] == [
        {"tag": "NN", "precision": 1.0, "recall": pytest.approx(9 / 12), "f1": pytest.approx(18 / 21),
         "support": 12, "errors": 3},
        {"tag": "DET", "precision": pytest.approx(4 / 7), "recall": 1.0, "f1": pytest.approx(8 / 11),
         "support": 4, "errors": 3},
        {"tag": "V", "precision": pytest.approx(5 / 6), "recall": pytest.approx(5 / 6),
         "f1": pytest.approx(5 / 6), "support": 6, "errors": 2},
    ]
    confusion = report["confusion"]
    assert sorted(confusion["tags"]) == ["DET", "NN", "V"]
    cell = {
        (gold_tag, predicted): confusion["matrix"][i][j]
        for i, gold_tag in enumerate(confusion["tags"])
        for j, predicted in enumerate(confusion["tags"])
    }
    # Rows are gold tags, columns predicted ones.
    assert cell == {
        ("NN", "NN"): 9, ("NN", "DET"): 2, ("NN", "V"): 1,
        ("DET", "NN"): 0, ("DET", "DET"): 4, ("DET", "V"): 0,
        ("V", "NN"): 0, ("V", "DET"): 1, ("V", "V"): 5,
    }
    assert confusion["pairs"][0] == {"gold": "NN", "predicted": "DET", "count": 2}
    assert sorted((p["gold"], p["predicted"], p["count"]) for p in confusion["pairs"]) == [
        ("NN", "DET", 2), ("NN", "V", 1), ("V", "DET", 1)
    ]
    errors = report["errors"]
    # The most frequent first, with the context of its first occurrence.
    assert errors[0] == {
        "word": "that", "gold": "NN", "predicted": "DET", "count": 2,
        "context": {"before": "Everybody read", "word": "that", "after": "book"},
    }
    assert sorted(errors[1:], key=lambda e: e["word"]) == [
        {"word": "pizza", "gold": "NN", "predicted": "V", "count": 1,
         "context": {"before": "The cat ate that", "word": "pizza", "after": ""}},
        {"word": "the", "gold": "V", "predicted": "DET", "count": 1,
         "context": {"before": "Everybody ate", "word": "the", "after": "dog"}},
    ]


class CellTexts(HTMLParser):
    """The elements of a page and the text of each table cell, as a browser reads them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements, self.cells, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        self.elements.append(tag)
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td":
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


# Words, a gold tag, features and lemmas that mean something in HTML, and
# predictions the pipeline below makes for every word (a gold tag the toy model
# never predicts), so that every one of them is an error the report lists.
HOSTILE_WORDS = ["<blink>x</blink>", "a&amp;b", "\"q'", "&", "<script>alert(1)</script>"]
HOSTILE_TAG = "<i>T</i>&amp;"
HOSTILE_FEATURE, HOSTILE_VALUE, HOSTILE_PREDICTED_VALUE = "<em>F</em>", "<kbd>x</kbd>&amp;", "<i>p</i>&"
HOSTILE_LEMMA, HOSTILE_PREDICTED_LEMMA = "<u>l</u>&lt;", "<s>w</s>&gt;"


def test_report_cells_show_the_datas_text_escaped(toy_pipeline, tmp_path, capsys):
    sentence = [("The", "DET", "_", "the"),
                *[(w, HOSTILE_TAG, f"{HOSTILE_FEATURE}={HOSTILE_VALUE}", HOSTILE_LEMMA) for w in HOSTILE_WORDS],
                ("ate", "V", "_", "eat")]
    gold = write_full_conllu(tmp_path / "gold<i>&.conllu", [sentence])
    predicted = {w.lower(): (f"{HOSTILE_FEATURE}={HOSTILE_PREDICTED_VALUE}", HOSTILE_PREDICTED_LEMMA)
                 for w in HOSTILE_WORDS}
    model = ruled_morph_pipeline(toy_pipeline, tmp_path / "ruled", predicted)
    run_evaluate(capsys, model, gold, "--report", tmp_path / "r.html", "--json", tmp_path / "r.json")
    page = CellTexts()
    page.feed((tmp_path / "r.html").read_text(encoding="utf-8"))
    # No element came from the data: the page's own ones only, one script.
    assert not {"blink", "i", "em", "kbd", "u", "s"} & set(page.elements)
    assert page.elements.count("script") == 1
    # Each word and tag reads as written: in the error list's word, gold and context cells,
    # the per-tag and confusion tables.
    for word in HOSTILE_WORDS:
        assert word in page.cells
        assert any(word in cell and cell != word for cell in page.cells), word  # a context
    assert page.cells.count(HOSTILE_TAG) >= len(HOSTILE_WORDS) + 2
    report = json.loads((tmp_path / "r.json").read_text())
    assert sorted(e["word"] for e in report["errors"]) == sorted(w.lower() for w in HOSTILE_WORDS)
    # The feature tables (per feature, values, whole FEATS) and the lemma errors' cells.
    assert page.cells.count(HOSTILE_FEATURE) == 2
    assert {HOSTILE_VALUE, HOSTILE_PREDICTED_VALUE, f"{HOSTILE_FEATURE}={HOSTILE_VALUE}",
            f"{HOSTILE_FEATURE}={HOSTILE_PREDICTED_VALUE}"} <= set(page.cells)
    assert page.cells.count(HOSTILE_LEMMA) == page.cells.count(HOSTILE_PREDICTED_LEMMA) == len(HOSTILE_WORDS)
    lemma_errors = [e["word"] for e in report["lemma"]["errors"] if e["gold"] == HOSTILE_LEMMA]
    assert sorted(lemma_errors) == sorted(HOSTILE_WORDS)


# Features and lemmas. (word, XPOS, FEATS, LEMMA) written by hand, and what the
# pipeline below predicts for each word: the toy tagger, then a rule that sets
# FEATS and lemma by the lowercased word. "dogs", "cat" and "pizzas" are not in
# the toy model's word table.
MORPH_GOLD = [
    [("The", "DET", "Definite=Def|PronType=Art", "the"), ("dogs", "NN", "Number=Plur", "dog"),
     ("ate", "V", "Mood=Ind|Tense=Past|VerbForm=Fin", "eat"),
     ("the", "DET", "Definite=Def|PronType=Art", "the"), ("apple", "NN", "Number=Sing", "apple")],
    [("Everybody", "NN", "Number=Sing|PronType=Tot", "everybody"), ("read", "V", "Tense=Past|VerbForm=Fin", "read"),
     ("that", "DET", "Number=Sing|PronType=Dem", "that"), ("book", "NN", "Number=Sing", "book")],
    [("The", "DET", "Definite=Def|PronType=Art", "the"), ("cat", "NN", "_", "cat"),
     ("ate", "V", "Mood=Ind|Tense=Past|VerbForm=Fin", "eat"), ("pizzas", "NN", "Number=Plur", "pizza")],
]
MORPH_PREDICTED = {  # word: (FEATS, lemma)
    "the": ("Definite=Def|PronType=Art", "the"),
    "dogs": ("Number=Sing", "dogs"),  # Number Plur -> Sing; lemma dog -> dogs
    "ate": ("Tense=Past|VerbForm=Fin", "eat"),  # no Mood
    "apple": ("Number=Sing", "apple"),
    "everybody": ("Number=Sing|Person=3|PronType=Tot", "everybody"),  # Person too
    "read": ("Tense=Pres|VerbForm=Fin", "read"),  # Tense Past -> Pres
    "that": ("PronType=Dem", "that"),  # no Number
    "book": ("Number=Sing", "book"),
    "cat": ("Number=Sing", "cat"),  # gold FEATS _
    "pizzas": ("Number=Plur", "pizzas"),  # lemma pizza -> pizzas
}


def write_full_conllu(path, sentences, feats=True, lemmas=True):
    lines = []
    for sentence in sentences:
        for i, (word, tag, feat, lemma) in enumerate(sentence, 1):
            lines.append(f"{i}\t{word}\t{lemma if lemmas else '_'}\t_\t{tag}\t{feat if feats else '_'}\t_\t_\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ruled_morph_pipeline(toy_pipeline, path, predicted=MORPH_PREDICTED, feats=True, lemmas=True):
    nlp = spacy.load(toy_pipeline)
    ruler = nlp.add_pipe("attribute_ruler", last=True)
    for word, (feat, lemma) in predicted.items():
        attrs = {**({"MORPH": feat} if feats else {}), **({"LEMMA": lemma} if lemmas else {})}
        ruler.add([[{"LOWER": word}]], attrs)
    nlp.to_disk(path)
    return path


def test_features_and_lemmas_match_a_count_by_hand(toy_pipeline, tmp_path, capsys):
    model = ruled_morph_pipeline(toy_pipeline, tmp_path / "ruled")
    gold = write_full_conllu(tmp_path / "gold.conllu", MORPH_GOLD)
    out = run_evaluate(capsys, model, gold, "--json", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    morph, lemma = report["morph"], report["lemma"]
    # 13 tokens; FEATS right: The, the, apple, book, The, pizzas.
    # Unseen: dogs (wrong), cat (wrong: gold _), pizzas (right).
    assert morph["tokens"] == 13 and morph["accuracy"] == pytest.approx(6 / 13)
    assert morph["seen"] == {
        "seen": {"tokens": 10, "accuracy": pytest.approx(5 / 10)},
        "unseen": {"tokens": 3, "accuracy": pytest.approx(1 / 3)},
    }
    # Per feature, over the 12 tokens whose gold FEATS is not _ (cat is left out):
    # Number: tp apple Everybody book pizzas, fp dogs, fn dogs that; Mood: fn ate ate;
    # Tense: tp ate ate, fp and fn read; Person: fp Everybody; Definite 3, PronType 5,
    # VerbForm 3 right.
    row = {r["feature"]: r for r in morph["per_feature"]}
    assert [r["feature"] for r in morph["per_feature"]] == [
        # By errors (tokens where gold and prediction differ), then support.
        "Number", "Mood", "Tense", "Person", "PronType", "Definite", "VerbForm"
    ]
    assert row["Number"] == {
        "feature": "Number", "accuracy": pytest.approx(4 / 6), "precision": pytest.approx(4 / 5),
        "recall": pytest.approx(4 / 6), "f1": pytest.approx(8 / 11), "support": 6, "errors": 2,
    }
    assert row["Mood"] == {
        "feature": "Mood", "accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0,
        "support": 2, "errors": 2,
    }
    assert row["Tense"] == {
        "feature": "Tense", "accuracy": pytest.approx(2 / 3), "precision": pytest.approx(2 / 3),
        "recall": pytest.approx(2 / 3), "f1": pytest.approx(2 / 3), "support": 3, "errors": 1,
    }
    assert row["Person"] == {
        "feature": "Person", "accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0,
        "support": 0, "errors": 1,
    }
    assert [(row[f]["support"], row[f]["f1"], row[f]["errors"]) for f in ("PronType", "Definite", "VerbForm")] == [
        (5, 1.0, 0), (3, 1.0, 0), (3, 1.0, 0)
    ]
    # tp 17, fp 3 (dogs, Everybody, read), fn 5 (dogs, ate, ate, read, that).
    assert morph["micro"] == {
        "precision": pytest.approx(17 / 20), "recall": pytest.approx(17 / 22), "f1": pytest.approx(34 / 42)
    }
    assert morph["errors"] == [
        {"gold": "Mood=Ind|Tense=Past|VerbForm=Fin", "predicted": "Tense=Past|VerbForm=Fin", "count": 2, "word": "ate"},
        {"gold": "Number=Plur", "predicted": "Number=Sing", "count": 1, "word": "dogs"},
        {"gold": "Number=Sing|PronType=Tot", "predicted": "Number=Sing|Person=3|PronType=Tot", "count": 1,
         "word": "Everybody"},
        {"gold": "Tense=Past|VerbForm=Fin", "predicted": "Tense=Pres|VerbForm=Fin", "count": 1, "word": "read"},
        {"gold": "Number=Sing|PronType=Dem", "predicted": "PronType=Dem", "count": 1, "word": "that"},
        {"gold": "_", "predicted": "Number=Sing", "count": 1, "word": "cat"},
    ]
    assert morph["value_errors"] == [
        {"feature": "Mood", "gold": "Ind", "predicted": "_", "count": 2, "word": "ate"},
        {"feature": "Number", "gold": "Plur", "predicted": "Sing", "count": 1, "word": "dogs"},
        {"feature": "Person", "gold": "_", "predicted": "3", "count": 1, "word": "Everybody"},
        {"feature": "Tense", "gold": "Past", "predicted": "Pres", "count": 1, "word": "read"},
        {"feature": "Number", "gold": "Sing", "predicted": "_", "count": 1, "word": "that"},
    ]
    # Lemmas: dogs and pizzas wrong, both unseen.
    assert lemma == {
        "tokens": 13, "accuracy": pytest.approx(11 / 13),
        "seen": {"seen": {"tokens": 10, "accuracy": 1.0}, "unseen": {"tokens": 3, "accuracy": pytest.approx(1 / 3)}},
        "errors": [{"word": "dogs", "gold": "dog", "predicted": "dogs", "count": 1},
                   {"word": "pizzas", "gold": "pizza", "predicted": "pizzas", "count": 1}],
    }
    assert report["not_evaluated"] == {}
    assert f"features (FEATS) accuracy {6 / 13:.4f} (13 tokens)" in out
    assert f"lemma accuracy {11 / 13:.4f} (13 tokens)" in out
    assert "     2x Mood=Ind|Tense=Past|VerbForm=Fin > Tense=Past|VerbForm=Fin (ate)" in out
    assert "     1x dogs: dog > dogs" in out
    assert "not evaluated" not in out


def test_features_and_lemmas_agree_with_spacys_scorer(toy_pipeline, tmp_path, capsys):
    model = ruled_morph_pipeline(toy_pipeline, tmp_path / "ruled")
    # "apple" without a gold lemma: not counted.
    sentences = [MORPH_GOLD[0][:4] + [("apple", "NN", "Number=Sing", "_")], *MORPH_GOLD[1:]]
    gold = write_full_conllu(tmp_path / "gold.conllu", sentences)
    run_evaluate(capsys, model, gold, "--json", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["lemma"]["tokens"], report["lemma"]["accuracy"]) == (12, pytest.approx(10 / 12))
    nlp = spacy.load(model)
    examples = [Example(nlp(Doc(nlp.vocab, words=[t.text for t in doc])), doc)
                for doc in read_docs(gold, nlp.vocab)]
    scores = score_tagger(examples, ("morph", "lemma"))
    assert report["morph"]["accuracy"] == pytest.approx(scores["morph_acc"])
    assert report["lemma"]["accuracy"] == pytest.approx(scores["lemma_acc"])
    micro = report["morph"]["micro"]
    assert (micro["precision"], micro["recall"], micro["f1"]) == pytest.approx(
        (scores["morph_micro_p"], scores["morph_micro_r"], scores["morph_micro_f"])
    )
    ours = {r["feature"]: (r["precision"], r["recall"], r["f1"]) for r in report["morph"]["per_feature"]}
    assert set(ours) == set(scores["morph_per_feat"])
    for feature, prf in scores["morph_per_feat"].items():
        assert ours[feature] == pytest.approx((prf["p"], prf["r"], prf["f"])), feature


def test_features_and_lemmas_of_an_lstm_tagger_that_writes_them(tmp_path):
    # The tagger's own morph and lemma heads, overfit on MORPH_GOLD's sentences.
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"annotate": ["tag", "morph", "lemma"], "model": SMALL_MODEL})
    gold_docs = read_docs(write_full_conllu(tmp_path / "gold.conllu", MORPH_GOLD), nlp.vocab)
    examples = [Example(Doc(nlp.vocab, words=[t.text for t in doc]), doc) for doc in gold_docs]
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.01
    for _ in range(150):
        nlp.update(examples, sgd=optimizer)
    report = evaluate(nlp, gold_docs)
    assert (report["morph"]["accuracy"], report["lemma"]["accuracy"]) == (1.0, 1.0)
    assert report["morph"]["tokens"] == report["lemma"]["tokens"] == 13
    assert report["morph"]["errors"] == report["lemma"]["errors"] == []
    assert report["not_evaluated"] == {}


def test_morph_prob_calibration_with_and_without_its_temperature(tmp_path):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"annotate": ["tag", "morph"], "model": SMALL_MODEL})
    gold_docs = read_docs(write_full_conllu(tmp_path / "gold.conllu", MORPH_GOLD), nlp.vocab)
    examples = [Example(Doc(nlp.vocab, words=[t.text for t in doc]), doc) for doc in gold_docs]
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.01
    for _ in range(10):  # far from overfit: some FEATS wrong, probabilities below 1
        nlp.update(examples, sgd=optimizer)
    tagger = nlp.get_pipe("lstm_tagger")

    def ece_by_hand():
        tagged = nlp.pipe(Doc(nlp.vocab, words=[t.text for t in doc]) for doc in gold_docs)
        pairs = [(t._.morph_prob, str(t.morph) == str(g.morph)) for doc, gold in zip(tagged, gold_docs)
                 for t, g in zip(doc, gold)]
        return reliability(numpy.array([p for p, _ in pairs]), numpy.array([r for _, r in pairs]))["ece"]

    raw = ece_by_hand()
    tagger.cfg["morph_temperature"] = 2.0
    tempered = ece_by_hand()
    report = evaluate(nlp, gold_docs)
    calibrated = report["morph"]["calibration"]
    assert report["morph"]["accuracy"] < 1 and tempered != raw
    assert (calibrated["tokens"], calibrated["temperature"]) == (13, 2.0)
    assert calibrated["ece"] == pytest.approx(tempered) and calibrated["before"]["ece"] == pytest.approx(raw)
    assert tagger.cfg["morph_temperature"] == 2.0  # put back after the pass without it
    assert f"  calibration of morph_prob: ECE {tempered:.4f} with temperature 2.000 (without: {raw:.4f})" in (
        text_summary(report).splitlines()
    )
    page = html_report(report)
    section = page[page.index('<h2 id="morph-calibration">Calibration of token._.morph_prob</h2>'):]
    assert f"<b>{tempered:.4f}</b> with the temperature 2.000 fitted on dev in training; without it {raw:.4f}" in (
        section
    )
    if figures.available():
        assert embedded_pngs(section)["reliability diagram"]


@pytest.mark.parametrize("pipeline, gold_has, reasons", [
    ("toy", {}, {"morph": "the pipeline writes no token.morph", "lemma": "the pipeline writes no token.lemma_"}),
    ("ruled", {"feats": False}, {"morph": "the gold corpus has no FEATS"}),
    ("ruled", {"lemmas": False}, {"lemma": "the gold corpus has no lemmas"}),
    ("ruled", {"feats": False, "lemmas": False},
     {"morph": "the gold corpus has no FEATS", "lemma": "the gold corpus has no lemmas"}),
    ("feats only", {}, {"lemma": "the pipeline writes no token.lemma_"}),
])
def test_without_features_or_lemmas_their_sections_are_absent(toy_pipeline, tmp_path, capsys, pipeline, gold_has, reasons):
    model = {
        "toy": toy_pipeline,
        "ruled": ruled_morph_pipeline(toy_pipeline, tmp_path / "ruled"),
        "feats only": ruled_morph_pipeline(toy_pipeline, tmp_path / "feats", lemmas=False),
    }[pipeline]
    gold = write_full_conllu(tmp_path / "gold.conllu", MORPH_GOLD, **gold_has)
    out = run_evaluate(capsys, model, gold, "--json", tmp_path / "r.json", "--report", tmp_path / "r.html")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["not_evaluated"] == reasons
    for kind in ("morph", "lemma"):
        assert (report[kind] is None) == (kind in reasons)
    names = {"morph": "features", "lemma": "lemmas"}
    line = "not evaluated: " + "; ".join(f"{names[k]} ({why})" for k, why in reasons.items())
    assert [text for text in out.splitlines() if text.startswith("not evaluated")] == [line]
    assert ("features (FEATS) accuracy" in out) == ("morph" not in reasons)
    assert ("lemma accuracy" in out) == ("lemma" not in reasons)
    page = (tmp_path / "r.html").read_text()
    assert ('id="features"' in page) == ("morph" not in reasons)
    assert ('id="lemmas"' in page) == ("lemma" not in reasons)
    assert f"<p>{html.escape(line)}.</p>" in page
