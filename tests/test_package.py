"""The project installed (not editable) into a fresh virtual environment: the
README's toy training from an empty folder, and `spacy package` of a trained
pipeline, installed beside it and loaded by name in a new process; and, as
docs/packaging.md says, the packaged pipeline installed with the project's own
wheel from one folder into an environment that has neither."""
import json
import shutil

import pytest
import spacy
import torch
from spacy.util import get_minor_version_range

import spacy_lstm_tagger

from helpers import ROOT, TOY_TAGS, TOY_TEXTS, copy_project

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

PACKAGE_DATA = """
import spacy_lstm_tagger.configs, spacy_lstm_tagger.corpus
print(spacy_lstm_tagger.configs.CONFIG_DIR)
print(sorted(p.name for p in spacy_lstm_tagger.configs.CONFIG_DIR.glob("*.cfg")))
print(spacy_lstm_tagger.corpus.TOY_CORPUS.is_file())
"""

PIP_INSTALL = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


def venv_with_torch(folder, run_python):
    """The python of a fresh virtual environment holding only the same torch as
    here (a CPU build; pip finds it where it found this one)."""
    run_python("-m", "venv", folder)
    python = folder / "bin" / "python"
    run_python(*PIP_INSTALL, f"torch=={torch.__version__}", python=python, timeout=600)
    return python


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory, run_python):
    """The python of a fresh virtual environment into which the project is
    installed from a copy of its files, not editable, as from PyPI."""
    tmp_path = tmp_path_factory.mktemp("installed")
    source = copy_project(tmp_path / "project")
    python = venv_with_torch(tmp_path / "venv", run_python)
    # The same spaCy as here: no resolver surprises.
    run_python(*PIP_INSTALL, source, f"spacy=={spacy.__version__}", python=python, timeout=600)
    return python


@pytest.mark.slow
def test_installed_package_runs_the_readme_toy_training_from_an_empty_folder(
    venv_python, tmp_path, run_python
):
    out = run_python("-m", "spacy_lstm_tagger", "train", python=venv_python, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "The/DET dog/NN ate/V the/DET apple/NN"
    assert (tmp_path / "training" / "toy" / "model-best" / "lstm_tagger" / "model").is_file()
    config_dir, configs, has_corpus = run_python(
        "-c", PACKAGE_DATA, python=venv_python, cwd=tmp_path
    ).stdout.splitlines()
    assert config_dir.startswith(str(venv_python.parent.parent))  # not the checkout
    # Every config of the checkout ships (the CLI reads toy.cfg, ewt.cfg and ud.cfg).
    assert configs == str(sorted(p.name for p in (ROOT / "configs").glob("*.cfg")))
    assert has_corpus == "True"


@pytest.mark.slow
def test_packaged_pipeline_installs_and_loads(toy_pipeline, venv_python, tmp_path, run_python):
    run_python(
        "-m", "spacy", "package", toy_pipeline, tmp_path,
        "--name", "lstm_tagger_toy", "--version", "0.1.0", cwd=tmp_path,
    )
    package_dir = tmp_path / "en_lstm_tagger_toy-0.1.0"
    # spaCy found the distribution that provides the factory and the architecture.
    requirements = json.loads((package_dir / "meta.json").read_text())["requirements"]
    version_range = get_minor_version_range(spacy_lstm_tagger.__version__)
    assert f"spacy-lstm-tagger{version_range}" in requirements

    tarball = package_dir / "dist" / "en_lstm_tagger_toy-0.1.0.tar.gz"
    run_python(*PIP_INSTALL, tarball, python=venv_python, timeout=600)
    empty = tmp_path / "elsewhere"  # not the checkout: nothing importable by accident
    empty.mkdir()
    out = run_python("-c", LOAD_AND_TAG, python=venv_python, cwd=empty)
    result = json.loads(out.stdout)
    assert result["tags"] == TOY_TAGS
    assert all(0.5 < p <= 1.0 for p in result["probs"])
    assert result["module"].startswith(str(venv_python.parent.parent))


@pytest.mark.slow
def test_packaged_pipeline_installs_with_the_project_wheel_from_one_folder(
    toy_pipeline, tmp_path, run_python
):
    """docs/packaging.md: the project's wheel and the pipeline's wheel in one
    folder; `pip install --find-links FOLDER NAME` into an environment without
    the project installs both, and the pipeline loads by name."""
    pytest.importorskip("build", reason="needs the project's package extra (build)")
    wheels = tmp_path / "wheels"
    run_python("-m", "build", "--wheel", "--outdir", wheels, copy_project(tmp_path / "project"), timeout=600)
    run_python(
        "-m", "spacy", "package", toy_pipeline, tmp_path, "--build", "wheel",
        "--name", "lstm_tagger_toy", "--version", "0.1.0", cwd=tmp_path,
    )
    [model_wheel] = (tmp_path / "en_lstm_tagger_toy-0.1.0" / "dist").glob("*.whl")
    shutil.copy(model_wheel, wheels)

    python = venv_with_torch(tmp_path / "venv", run_python)
    shown = run_python("-m", "pip", "show", "spacy-lstm-tagger", python=python, check=False)
    assert shown.returncode != 0, "the project is already in the fresh environment"
    report = tmp_path / "report.json"
    run_python(
        *PIP_INSTALL, "--find-links", wheels, "--report", report,
        "en_lstm_tagger_toy", f"spacy=={spacy.__version__}", python=python, timeout=600,
    )
    sources = {
        item["metadata"]["name"]: item["download_info"]["url"]
        for item in json.loads(report.read_text())["install"]
    }
    for name in ("en_lstm_tagger_toy", "spacy-lstm-tagger"):
        assert sources[name].startswith(wheels.as_uri() + "/"), sources[name]

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    result = json.loads(run_python("-c", LOAD_AND_TAG, python=python, cwd=empty).stdout)
    assert result["tags"] == TOY_TAGS
    assert result["module"].startswith(str(tmp_path / "venv"))
