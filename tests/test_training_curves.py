"""The train script's curves: a per-epoch log next to model-last, a PNG plot at
the end, both continued by --resume and shown by `evaluate --training`."""
import json
import re

import pytest
import srsly

from spacy_lstm_tagger.cli import run as main
from spacy_lstm_tagger.corpus import TOY_CORPUS
from spacy_lstm_tagger.data.training_log import LOG_NAME, PLOT_NAME, read_log, write_json
from spacy_lstm_tagger.configs import CONFIG_DIR
from spacy_lstm_tagger.training.options import TrainingOptions
from spacy_lstm_tagger.training.runs import train_files

# epoch, loss, dev acc, dev pos, words/s, temperature
HEADER = "epoch       loss  dev acc  dev pos  words/s temperature"
EPOCH_LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+-\s+\S+\s+(\S+)$")


def printed_epochs(lines):
    return [(int(m[1]), float(m[2]), float(m[3]), float(m[4])) for m in map(EPOCH_LINE.match, lines) if m]


def logged_epochs(rows):
    return [
        (r["epoch"], round(r["loss"], 4), round(r["tag_acc"], 4),
         round(r["calibration"]["lstm_tagger"]["temperature"], 3))
        for r in rows
    ]


def test_training_writes_curves_that_resume_continues_and_the_report_shows(tmp_path, capsys):
    lines = []
    train_files(CONFIG_DIR / "toy.cfg", tmp_path, TOY_CORPUS, options=TrainingOptions(epochs=3, seed=0, log=lines.append))
    rows = read_log(tmp_path / LOG_NAME)
    # The log holds what the run printed, epoch by epoch.
    assert logged_epochs(rows) == printed_epochs(lines)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert (tmp_path / PLOT_NAME).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # Every column has a heading; the last line says which metric chose model-best, and when.
    assert lines[lines.index(HEADER) + 1 : lines.index(HEADER) + 4] == [
        line for line in lines if EPOCH_LINE.match(line)
    ]
    best = max(rows, key=lambda r: (r["tag_acc"], -r["epoch"]))
    assert lines[-1].startswith(
        f"best dev score {best['tag_acc']:.4f} (tag_acc on dev) at epoch {best['epoch']}: "
        f"saved as {tmp_path / 'model-best'}; "
    )

    # A row written after model-last's epoch (a crash before its save) is redone.
    write_json(tmp_path / LOG_NAME, {"epochs": rows + [{"epoch": 4, "loss": 99.0, "tag_acc": 0.0}]})
    lines = []
    train_files(CONFIG_DIR / "toy.cfg", tmp_path, TOY_CORPUS, options=TrainingOptions(epochs=5, seed=0, resume=True, log=lines.append))
    resumed = read_log(tmp_path / LOG_NAME)
    assert [r["epoch"] for r in resumed] == [1, 2, 3, 4, 5]
    assert resumed[:3] == rows
    assert logged_epochs(resumed[3:]) == printed_epochs(lines)
    # The temperature fitted on dev in the last epoch is the one saved with model-last.
    saved = srsly.read_json(tmp_path / "model-last" / "lstm_tagger" / "cfg")["tag_temperature"]
    assert saved == pytest.approx(resumed[-1]["calibration"]["lstm_tagger"]["temperature"], rel=1e-9)

    main(["evaluate", str(tmp_path / "model-best"), str(TOY_CORPUS), "--training", str(tmp_path),
          "--json", str(tmp_path / "r.json"), "--report", str(tmp_path / "r.html")])
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["training"] == resumed
    assert report["frequency_source"] == "training corpus"
    page = (tmp_path / "r.html").read_text()
    assert '<img alt="training curves" src="data:image/png;base64,' in page
