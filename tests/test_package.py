"""`spacy package` of a trained pipeline, installed into a fresh virtual
environment beside this project, then loaded by name in a new process."""
import json
import shutil

import pytest
import spacy
import torch
from spacy.util import get_minor_version_range

import spacy_lstm_tagger

from helpers import ROOT, TOY_TAGS, TOY_TEXTS

# What a wheel of the project is built from; a file missing here is missing
# from the installed package too, which is what this test should catch.
PROJECT_FILES = ["pyproject.toml", "setup.cfg", "README.md", "spacy_lstm_tagger"]

LOAD_AND_TAG = f"""
import json, spacy, spacy_lstm_tagger
spacy.require_cpu()
nlp = spacy.load("en_lstm_tagger_toy")
docs = list(nlp.pipe({TOY_TEXTS!r}))
print(json.dumps({{
    "tags": [[t.tag_ for t in doc] for doc in docs],
    "probs": [t._.tag_prob for doc in docs for t in doc],
    "module": spacy_lstm_tagger.__file__,
}}))
"""


@pytest.mark.slow
def test_packaged_pipeline_installs_and_loads(toy_pipeline, tmp_path, run_python):
    run_python(
        "-m", "spacy", "package", toy_pipeline, tmp_path,
        "--name", "lstm_tagger_toy", "--version", "0.1.0", cwd=tmp_path,
    )
    package_dir = tmp_path / "en_lstm_tagger_toy-0.1.0"
    # spaCy found the distribution that provides the factory and the architecture.
    requirements = json.loads((package_dir / "meta.json").read_text())["requirements"]
    version_range = get_minor_version_range(spacy_lstm_tagger.__version__)
    assert f"spacy-lstm-tagger{version_range}" in requirements

    source = tmp_path / "project"
    source.mkdir()
    for name in PROJECT_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    venv = tmp_path / "venv"
    run_python("-m", "venv", venv)
    python = venv / "bin" / "python"
    pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # The same torch and spaCy as here: a CPU torch, and no resolver surprises.
    run_python(*pip, f"torch=={torch.__version__}", python=python, timeout=600)
    run_python(*pip, source, f"spacy=={spacy.__version__}", python=python, timeout=600)
    run_python(*pip, package_dir / "dist" / "en_lstm_tagger_toy-0.1.0.tar.gz", python=python, timeout=600)

    empty = tmp_path / "elsewhere"  # not the checkout: nothing importable by accident
    empty.mkdir()
    out = run_python("-c", LOAD_AND_TAG, python=python, cwd=empty)
    result = json.loads(out.stdout)
    assert result["tags"] == TOY_TAGS
    assert all(0.5 < p <= 1.0 for p in result["probs"])
    assert result["module"].startswith(str(venv))
