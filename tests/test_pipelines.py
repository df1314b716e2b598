"""The component inside real spaCy pipelines: other components, sourcing,
select_pipes / disable_pipe, evaluation, spaCy's CLI, multiprocessing, the CPU."""
import json
import textwrap

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from thinc.api import NumpyOps

from spacy_lstm_tagger.data.corpus import read_docs, write_docbin

from helpers import ROOT, TOY_DATA, TOY_TAGS, TOY_TEXTS, tags_of

TAG_MAP = {"DET": {"POS": "DET"}, "NN": {"POS": "NOUN"}, "V": {"POS": "VERB"}}
TOY_POS = [[TAG_MAP[tag]["POS"] for tag in tags] for tags in TOY_TAGS]
CONFIGS = sorted((ROOT / "configs").glob("*.cfg"))


def full_pipeline(toy_pipeline):
    """sentencizer -> lstm_tagger (sourced from the trained pipeline) ->
    attribute_ruler mapping tag_ to pos_, spaCy's usual tag map."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("lstm_tagger", source=spacy.load(toy_pipeline))
    nlp.add_pipe("attribute_ruler").load_from_tag_map(TAG_MAP)
    return nlp


def gold_examples(nlp):
    return [
        Example(nlp.make_doc(" ".join(words)), Doc(nlp.vocab, words=words, tags=tags, pos=pos))
        for (words, tags), pos in zip(TOY_DATA, TOY_POS)
    ]


def test_with_sentencizer_and_attribute_ruler(toy_pipeline, tmp_path):
    nlp = full_pipeline(toy_pipeline)
    assert nlp.pipe_names == ["sentencizer", "lstm_tagger", "attribute_ruler"]
    doc = nlp(f"{TOY_TEXTS[0]}. {TOY_TEXTS[1]}.")
    assert [len(sent) for sent in doc.sents] == [6, 5]
    words = [t for t in doc if not t.is_punct]
    assert [t.tag_ for t in words] == TOY_TAGS[0] + TOY_TAGS[1]
    assert [t.pos_ for t in words] == TOY_POS[0] + TOY_POS[1]
    assert all(t._.tag_prob > 0 for t in doc)
    # The combined pipeline saves and loads like any other.
    nlp.to_disk(tmp_path / "full")
    loaded = spacy.load(tmp_path / "full")
    assert loaded.pipe_names == nlp.pipe_names
    again = loaded(doc.text)
    assert [(t.tag_, t.pos_) for t in again] == [(t.tag_, t.pos_) for t in doc]


def test_sourced_component_matches_its_source(toy_pipeline):
    source = spacy.load(toy_pipeline)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", source=source, name="tagger2")
    assert tags_of(nlp.pipe(TOY_TEXTS)) == TOY_TAGS
    assert nlp.config["components"]["tagger2"] == source.config["components"]["lstm_tagger"]


def test_select_pipes_and_disable_pipe(toy_pipeline):
    nlp = full_pipeline(toy_pipeline)
    with nlp.select_pipes(disable=["lstm_tagger", "attribute_ruler"]):
        doc = nlp(TOY_TEXTS[0])
        assert [t.tag_ for t in doc] == [""] * 5
        assert all(t._.tag_prob is None for t in doc)
    with nlp.select_pipes(enable=["lstm_tagger"]):
        doc = nlp(TOY_TEXTS[0])
        assert [t.tag_ for t in doc] == TOY_TAGS[0]
        assert [t.pos_ for t in doc] == [""] * 5
    nlp.disable_pipe("lstm_tagger")
    assert "lstm_tagger" in nlp.disabled
    assert [t.tag_ for t in nlp(TOY_TEXTS[0])] == [""] * 5
    nlp.enable_pipe("lstm_tagger")
    assert [t.tag_ for t in nlp(TOY_TEXTS[0])] == TOY_TAGS[0]


def test_nlp_evaluate(toy_pipeline):
    nlp = full_pipeline(toy_pipeline)
    scores = nlp.evaluate(gold_examples(nlp))
    assert scores["tag_acc"] == 1.0
    assert scores["pos_acc"] == 1.0  # from the attribute_ruler, on our tags


def test_spacy_evaluate_cli(toy_pipeline, tmp_path, run_python):
    nlp = spacy.load(toy_pipeline)
    DocBin(docs=[eg.reference for eg in gold_examples(nlp)]).to_disk(tmp_path / "dev.spacy")
    out = run_python(
        "-m", "spacy", "evaluate", toy_pipeline, tmp_path / "dev.spacy",
        "--output", tmp_path / "metrics.json", cwd=tmp_path,
    )
    assert "TAG" in out.stdout
    assert json.loads((tmp_path / "metrics.json").read_text())["tag_acc"] == 1.0


@pytest.fixture(scope="module")
def toy_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "toy.spacy"
    write_docbin(read_docs(ROOT / "corpus" / "toy.json", spacy.blank("en").vocab), path)
    return path


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_spacy_debug_config(config, toy_corpus, tmp_path, run_python):
    # The corpora are resolved too, so they must exist.
    out = run_python(
        "-m", "spacy", "debug", "config", config,
        "--paths.train", toy_corpus, "--paths.dev", toy_corpus, cwd=tmp_path,
    )
    assert "Config is valid" in out.stdout


# The parent tags first, with two torch threads: that is what used to leave the
# forked workers waiting forever on torch's OpenMP thread pool (and, with an ONNX
# engine, on freeing the parent's session, whose threads fork did not copy).
N_PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys
    import spacy
    import torch

    torch.set_num_threads(2)
    model = {"engine": sys.argv[2], "precision": sys.argv[3]}
    nlp = spacy.load(sys.argv[1], config={"components": {"lstm_tagger": {"model": model}}})
    words = "The dog ate the apple Everybody read that book".split()
    texts = [" ".join(words[i % 9:] + words[:i % 5]) for i in range(100)]

    def run(**kwargs):
        docs = nlp.pipe(texts, batch_size=8, **kwargs)
        return [([t.tag_ for t in d], [t._.tag_prob for t in d]) for d in docs]

    sequential = run()
    parallel = run(n_process=2)
    assert [tags for tags, _ in parallel] == [tags for tags, _ in sequential]
    for (_, p), (_, s) in zip(parallel, sequential):
        assert all(abs(a - b) < 1e-5 for a, b in zip(p, s)), (p, s)
    print("same", len(parallel), "docs")
    """
)


@pytest.mark.parametrize("engine, precision", [("torch", "float32"), ("onnx", "float32"), ("torch", "bfloat16")])
def test_n_process_2_gives_the_same_tags_and_does_not_hang(toy_pipeline, tmp_path, run_python, engine, precision):
    if engine != "torch":
        pytest.importorskip("onnxruntime")
    script = tmp_path / "n_process.py"
    script.write_text(N_PROCESS_SCRIPT)
    # Well under a second of work; a regression hangs, and fails here instead.
    out = run_python(script, toy_pipeline, engine, precision, timeout=120)
    assert out.stdout.strip() == "same 100 docs"


def test_cpu_path(toy_pipeline):
    spacy.require_cpu()
    nlp = spacy.load(toy_pipeline)
    tagger = nlp.get_pipe("lstm_tagger")
    assert isinstance(tagger.model.ops, NumpyOps)
    assert all(p.device.type == "cpu" for p in tagger.model.network.parameters())
    assert tags_of(nlp.pipe(TOY_TEXTS)) == TOY_TAGS
