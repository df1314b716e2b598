"""Entry points and command lines, each in a fresh process."""
import gzip
import re
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from thinc.api import Config

from spacy_lstm_tagger.configs import CONFIG_DIR

from spacy_lstm_tagger.cli import main
from spacy_lstm_tagger.cli import run as run_cli

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_factory_found_through_entry_point_without_import(tmp_path):
    code = (
        "import sys, spacy\n"
        "nlp = spacy.blank('en')\n"
        "nlp.add_pipe('lstm_tagger')\n"
        "from spacy.util import registry\n"
        "registry.architectures.get('spacy_lstm_tagger.LSTMTagger.v1')\n"
        "print(nlp.pipe_names, 'spacy_lstm_tagger' in sys.modules)\n"
    )
    # From an empty directory, so the checkout itself is not on sys.path.
    out = run("-c", code, cwd=tmp_path)
    assert out.strip() == "['lstm_tagger'] True"


def test_train_script_on_toy_corpus(tmp_path):
    out = run("-m", "spacy_lstm_tagger", "train", "--output", str(tmp_path), "--epochs", "30")
    lines = out.strip().splitlines()
    assert lines[-1] == "The/DET dog/NN ate/V the/DET apple/NN"
    assert "epoch" in out and "dev acc" in out
    for name in ("model-best", "model-last"):
        nlp = spacy.load(tmp_path / name)
        assert [t.tag_ for t in nlp("Everybody read that book")] == ["NN", "V", "DET", "NN"]
    assert (tmp_path / "corpus" / "train.spacy").exists()
    assert not list(tmp_path.glob(".*tmp")), "temporary pipeline left behind"


def test_spacy_train_with_toy_config(tmp_path):
    toy = tmp_path / "toy.spacy"
    run("-m", "spacy_lstm_tagger", "convert", "corpus/toy.json", str(toy))
    run(
        "-m", "spacy", "train", "configs/toy.cfg",
        "--paths.train", str(toy), "--paths.dev", str(toy), "-o", str(tmp_path / "out"),
    )
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert [t.tag_ for t in nlp("The dog ate the apple")] == ["DET", "NN", "V", "DET", "NN"]


def test_spacy_train_on_a_json_corpus_says_it_found_no_examples(tmp_path):
    # spaCy's corpus reader skips a .json file with a warning and yields nothing.
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", "configs/toy.cfg", "--paths.train", "corpus/toy.json",
         "--paths.dev", "corpus/toy.json", "-o", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "ValueError: [lstm_tagger] cannot initialize: no training examples were found at all "
        "(the config's paths.train is corpus/toy.json; spaCy's corpus reader reads .spacy files "
        "only: convert it with `python -m spacy_lstm_tagger convert`), and no labels were added "
        "with add_label"
    )


def test_bad_corpus_gets_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"words": ["a", "b"], "tags": ["DET"]}]')
    result = subprocess.run(
        [sys.executable, "-m", "spacy_lstm_tagger", "train", "--train", str(bad),
         "--output", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode != 0
    assert "sentence 0 needs non-empty 'words' and 'tags' lists" in result.stderr
    assert "Traceback" not in result.stderr


def ud_folder(tmp_path, train: bytes, dev: bytes = None):
    """A UD treebank folder with these train (and dev) bytes, gzipped."""
    folder = tmp_path / "UD_English-Test"
    folder.mkdir()
    (folder / "en_test-ud-train.conllu.gz").write_bytes(gzip.compress(train))
    if dev is not None:
        (folder / "en_test-ud-dev.conllu.gz").write_bytes(gzip.compress(dev))
    return folder


SENTENCE = "1\tThe\tthe\tDET\tDT\t_\t_\t_\t_\t_\n2\tdog\tdog\tNOUN\tNN\t_\t_\t_\t_\t_\n\n"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: ["--train", write_bytes(t / "latin1.conllu", SENTENCE.replace("dog", "dög").encode("latin-1"))],
         "error: {t}/latin1.conllu, line 2: not UTF-8 text (byte 0xf6 at byte 4 of the line); CoNLL-U files are UTF-8"),
        (lambda t: ["--train", write_bytes(t / "cut.conllu.gz", gzip.compress(SENTENCE.encode() * 50)[:-30])],
         "error: {t}/cut.conllu.gz: the gzip file is truncated or damaged: reading stopped after line {n} "
         "(EOFError: Compressed file ended before the end-of-stream marker was reached)"),
        (lambda t: ["--train", write_bytes(t / "empty.conllu", b"")],
         "error: the training corpus {t}/empty.conllu is empty: it holds no sentences"),
        (lambda t: ["--train", write_bytes(t / "good.conllu", SENTENCE.encode()), "--dev", write_bytes(t / "empty.conllu", b"")],
         "error: the dev corpus {t}/empty.conllu is empty: it holds no sentences"),
        (lambda t: ["--ud", ud_folder(t, b"")],
         "error: the training corpus {t}/UD_English-Test/en_test-ud-train.conllu.gz is empty: it holds no sentences"),
        (lambda t: ["--ud", ud_folder(t, SENTENCE.encode(), b"# nothing\n")],
         "error: the dev corpus {t}/UD_English-Test/en_test-ud-dev.conllu.gz is empty: it holds no sentences"),
    ],
    ids=["not-utf8", "truncated-gzip", "empty-train", "empty-dev", "empty-ud-train", "empty-ud-dev"],
)
def test_unreadable_or_empty_corpora_get_one_line_and_status_1(tmp_path, make, message):
    args = ["train", *map(str, make(tmp_path)), "--output", str(tmp_path / "out"), "--epochs", "1"]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    # sys.exit(text): the text on stderr, status 1. {n}: where zlib found the end.
    expected = re.escape(message.format(t=tmp_path, n="NUMBER")).replace("NUMBER", r"[1-9]\d*")
    assert re.fullmatch(expected, exit_.value.code), exit_.value.code
    assert not (tmp_path / "out" / "model-best").exists()


def write_bytes(path, data):
    path.write_bytes(data)
    return path


def test_a_truncated_corpus_gets_no_traceback(tmp_path):
    cut = write_bytes(tmp_path / "cut.conllu.gz", gzip.compress(SENTENCE.encode() * 50)[:-30])
    result = subprocess.run(
        [sys.executable, "-m", "spacy_lstm_tagger", "convert", str(cut), str(tmp_path / "out.spacy")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(
        re.escape(f"error: {cut}: the gzip file is truncated or damaged: reading stopped after line ")
        + r"[1-9]\d* \(EOFError: Compressed file ended before the end-of-stream marker was reached\)",
        line,
    )
    assert not (tmp_path / "out.spacy").exists()


def test_a_missing_config_is_one_error_line(tmp_path):
    missing = tmp_path / "nope.cfg"
    result = subprocess.run(
        [sys.executable, "-m", "spacy_lstm_tagger", "train", "--config", str(missing),
         "--output", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: config file not found: {missing}"


@pytest.mark.parametrize(
    "section, key, problem",
    [
        ("components.lstm_tagger.model", "hiden_size",
         "[components.lstm_tagger.model] hiden_size is not a setting there: did you mean 'hidden_width'?"),
        ("components.lstm_tagger", "hidden_width",
         "[components.lstm_tagger] hidden_width is not a setting there: it belongs in [components.lstm_tagger.model]"),
        ("training", "max_epoch", "[training] max_epoch is not a setting there: did you mean 'max_epochs'?"),
        ("nlp", "max_epochs", "[nlp] max_epochs is not a setting there: it belongs in [training]"),
        ("", "trainig", "section [trainig] is not a setting there: did you mean section [training]?"),
    ],
)
def test_a_misplaced_or_misspelled_config_key_names_what_was_meant(tmp_path, section, key, problem):
    config = Config().from_disk(CONFIG_DIR / "toy.cfg", interpolate=False)
    target = config
    for part in section.split(".") if section else ():
        target = target[part]
    target[key] = 64 if section else {"x": 1}
    path = tmp_path / "typo.cfg"
    config.to_disk(path)
    with pytest.raises(ValueError) as err:
        run_cli(["train", "--config", str(path), "--output", str(tmp_path / "out"), "--epochs", "1"])
    assert str(err.value) == f"{path}: {problem}"
