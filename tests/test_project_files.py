"""The checkout's own files: the test runner's settings and what git ignores."""
import os
import shutil
import subprocess

import pytest

from helpers import ROOT


def test_pytest_says_why_tests_skip(run_python):
    # Without --slow the slow tests skip; the summary names each with its reason.
    # Without CI's rule that every test must run, which would fail the skip.
    env = {key: value for key, value in os.environ.items() if key != "CI_REQUIRE_ALL"}
    result = run_python("-m", "pytest", "-p", "no:cacheprovider", "tests/test_ud.py", "-k", "greek_slice", env=env)
    assert "SKIPPED [1] tests/test_ud.py" in result.stdout
    assert "slow: run with --slow" in result.stdout


@pytest.mark.parametrize(
    "path",
    ["packages/en_lstm_tagger_toy-0.1.0/setup.py", "training/toy/model-best/meta.json", "report.html",
     "full.png", "tagged.jsonl.partial", "out/part-1.conllu.partial", ".venv/bin/python",
     "build/lib/x.py", "dist/x.tar.gz", "spacy_lstm_tagger.egg-info/PKG-INFO", "corpus/toy.spacy"],
)
def test_what_the_commands_write_is_ignored_by_git(path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (or git is not installed)")
    result = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT)
    assert result.returncode == 0, f"{path} is not ignored"
