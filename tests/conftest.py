import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_lstm_tagger.conllu import ewt_dir

ROOT = Path(__file__).resolve().parent.parent

# The tests train small models. On a 2-core machine with anything else running,
# torch's two OpenMP threads spin waiting for a core and run several times
# slower than one thread; the n_process test sets two threads itself. The
# variable carries the setting to the tests' subprocesses.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def ewt():
    """The UD English EWT folder, or a skip that says what is missing."""
    try:
        return ewt_dir()
    except FileNotFoundError as err:
        pytest.skip(str(err))


# A trained toy pipeline for the tests that load, package or run one. The
# tutorial's two sentences, as in test_tagger.py, with a small model trained
# fast (no dropout, a high learning rate) until it tags them exactly.
TOY_DATA = [
    ("The dog ate the apple".split(), "DET NN V DET NN".split()),
    ("Everybody read that book".split(), "NN V DET NN".split()),
]
TOY_TEXTS = [" ".join(words) for words, _ in TOY_DATA]
TOY_TAGS = [tags for _, tags in TOY_DATA]
TOY_LABELS = ("DET", "NN", "V")
SMALL_MODEL = {
    "word_width": 32,
    "char_width": 16,
    "char_features": 16,
    "hidden_width": 32,
    "dropout": 0.0,
    "word_dropout": 0.0,
}


def toy_examples(nlp):
    return [
        Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=tags))
        for words, tags in TOY_DATA
    ]


def tags_of(docs):
    return [[token.tag_ for token in doc] for doc in docs]


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
