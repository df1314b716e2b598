import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import torch
from thinc.api import Adam, fix_random_seed

from spacy_lstm_tagger.data.treebank import ewt_dir

from ci_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401
from helpers import ROOT, SMALL_MODEL, TOY_TAGS, TOY_TEXTS, tags_of, toy_examples

# The tests train small models. On a 2-core machine with anything else running,
# torch's two OpenMP threads spin waiting for a core and run several times
# slower than one thread; the n_process test sets two threads itself. The
# variable carries the setting to the tests' subprocesses.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_addoption(parser):
    parser.addoption(
        "--slow", action="store_true", help="also run the slow tests (training on a treebank, installing packages)"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ewt():
    """The UD English EWT folder, or a skip that says what is missing."""
    try:
        return ewt_dir()
    except FileNotFoundError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def toy_pipeline(tmp_path_factory) -> Path:
    """The directory of a trained toy pipeline. Load it (`spacy.load`) rather
    than share one nlp object, so that no test sees another's changes."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": SMALL_MODEL})
    examples = toy_examples(nlp)
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
    for _ in range(30):
        losses = nlp.update(examples, sgd=optimizer)
    assert losses["lstm_tagger"] < 0.01, losses
    assert tags_of(nlp.pipe(TOY_TEXTS)) == TOY_TAGS
    path = tmp_path_factory.mktemp("toy") / "pipeline"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def run_python():
    """Run `python ARGS...` in a process group of its own and return the
    CompletedProcess. Past `timeout` seconds the whole group (forked workers
    too) is killed and the test fails, instead of hanging the suite."""

    def run(*args, timeout=300, cwd=ROOT, check=True, env=None, python=sys.executable):
        with subprocess.Popen(
            [str(python), *map(str, args)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, stderr = proc.communicate()
                pytest.fail(f"timed out after {timeout} s: {args}\n{stdout}\n{stderr}")
        result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        if check:
            assert result.returncode == 0, f"{args}\n{stdout}\n{stderr}"
        return result

    return run


@pytest.fixture(scope="session")
def morph_pipeline(tmp_path_factory) -> Path:
    """The directory of a small pipeline overfit to test_morph's sentences: it
    writes their tags, UPOS, FEATS and lemmas exactly."""
    from test_morph import analyses, expected, trained

    nlp, _ = trained()
    assert analyses(nlp) == expected()
    path = tmp_path_factory.mktemp("morph") / "pipeline"
    nlp.to_disk(path)
    return path
