"""CI_REQUIRE_ALL=1 turns skips into failures, except those of GPU-only tests."""
import pytest

pytest_plugins = ["pytester"]

TESTS = '''
import pytest

def test_runs():
    pass

def test_needs_a_treebank():
    pytest.skip("UD_EWT_DIR is not set")

@pytest.mark.skipif(True, reason="no browser")
def test_needs_a_browser():
    pass

@pytest.mark.gpu
def test_needs_a_gpu():
    pytest.skip("no CUDA GPU")
'''
MODULE_SKIP = 'import pytest\npytest.importorskip("no_such_module_here")\n\ndef test_never():\n    pass\n'


@pytest.fixture
def suite(pytester):
    pytester.makeini("[pytest]\nmarkers =\n    gpu: needs a GPU\n")
    pytester.makepyfile(test_some=TESTS, test_module_skip=MODULE_SKIP)
    return pytester


def test_skips_stay_skips_without_the_variable(suite, monkeypatch):
    monkeypatch.delenv("CI_REQUIRE_ALL", raising=False)
    result = suite.runpytest("-p", "ci_skips", "-rs")
    result.assert_outcomes(passed=1, skipped=4)
    result.stdout.fnmatch_lines(["*UD_EWT_DIR is not set*", "*no browser*"])


def test_with_the_variable_every_skip_but_the_gpus_fails_and_says_why(suite, monkeypatch):
    monkeypatch.setenv("CI_REQUIRE_ALL", "1")
    # A skipped module becomes a collection error, which stops a run: go on here to see the rest.
    result = suite.runpytest("-p", "ci_skips", "-rs", "--continue-on-collection-errors")
    # A skip in setup (skipif) fails as an error, one in the test as a failure.
    result.assert_outcomes(passed=1, failed=1, skipped=1, errors=2)
    result.stdout.fnmatch_lines([
        "*skipped, but CI_REQUIRE_ALL=1 asks every test to run:*no_such_module_here*",
        "*skipped, but CI_REQUIRE_ALL=1 asks every test to run: Skipped: no browser*",
        "*skipped, but CI_REQUIRE_ALL=1 asks every test to run: Skipped: UD_EWT_DIR is not set*",
        "*no CUDA GPU*",
    ])
