"""The spaCy project (project.yml): `spacy project run all` takes a UD treebank
folder to an evaluated pipeline and the wheels that install it, here on the
first sentences of UD English EWT and a few training steps."""
import json
import shutil

import pytest
import spacy

import spacy_lstm_tagger
from spacy_lstm_tagger.data.treebank import find_treebank

from helpers import ROOT, copy_project, slice_treebank

N_TRAIN, N_DEV = 200, 50


def tagged_words(conllu):
    """Words (not multi-word ranges or empty nodes) with an XPOS tag."""
    rows = [line.split("\t") for line in conllu.splitlines() if line and not line.startswith("#")]
    return sum(1 for row in rows if row[0].isdigit() and row[4] != "_")


@pytest.mark.slow
def test_project_runs_all_on_a_treebank_slice(ewt, tmp_path, run_python):
    pytest.importorskip("build", reason="needs the project's package extra (build)")
    treebank = slice_treebank(find_treebank(ewt), tmp_path / "treebank", N_TRAIN, N_DEV)
    project = copy_project(tmp_path / "project")
    shutil.copy(ROOT / "project.yml", project)
    run_python(
        "-m", "spacy", "project", "run", "all", project,
        "--vars.treebank", treebank, "--vars.ext", ".conllu", "--vars.eval_split", "dev",
        "--vars.max_steps", "20", "--vars.eval_frequency", "10", "--vars.name", "lstm_tagger_slice",
        timeout=900,
    )
    out = project / "training" / "en_ewt"
    # spacy train ran with the project's overrides on the config.
    config = spacy.util.load_config(out / "model-best" / "config.cfg")
    assert config["training"]["max_steps"] == 20
    assert config["corpora"]["train"]["gold_preproc"] is True
    # The evaluation read the whole dev slice.
    figures = json.loads((out / "evaluation.json").read_text())
    dev = (treebank / "en_ewt-ud-dev.conllu").read_text(encoding="utf8")
    assert figures["sentences"] == N_DEV
    assert figures["tokens"] == tagged_words(dev)
    assert 0.0 <= figures["accuracy"]["tag"] <= 1.0
    assert (out / "report.html").read_text(encoding="utf8").lstrip().lower().startswith("<!doctype html")
    # Both wheels, side by side, as docs/packaging.md ships them.
    assert sorted(p.name for p in (project / "wheels").glob("*.whl")) == [
        "en_lstm_tagger_slice-0.1.0-py3-none-any.whl",
        f"spacy_lstm_tagger-{spacy_lstm_tagger.__version__}-py3-none-any.whl",
    ]
