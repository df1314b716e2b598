"""A pipeline whose network ran on a GPU loads and tags on a machine without
one: the model file holds the weights as plain CPU arrays. These tests need
CUDA (and the training test CuPy, as `spacy train --gpu-id` does); elsewhere
they skip, saying so."""
import json
import os

import pytest
import spacy
import torch
from thinc.api import Adam, NumpyOps, fix_random_seed, set_current_ops
from thinc.compat import has_cupy_gpu

from helpers import SMALL_MODEL, TOY_TAGS, TOY_TEXTS, tags_of, toy_examples

# The one kind of skip that CI (CI_REQUIRE_ALL=1) allows: CI has no GPU.
pytestmark = pytest.mark.gpu

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device (torch.cuda.is_available() is False)"
)
needs_cupy = pytest.mark.skipif(
    not has_cupy_gpu, reason="no CuPy with a GPU: spaCy trains on a GPU through CuPy (pip install cupy-cuda12x)"
)

# Load and tag in a process that sees no GPU.
LOAD_ON_CPU = """
import json, sys, spacy, torch
assert not torch.cuda.is_available()
nlp = spacy.load(sys.argv[1])
docs = list(nlp.pipe({texts!r}))
print(json.dumps({{
    "tags": [[t.tag_ for t in doc] for doc in docs],
    "probs": [t._.tag_prob for doc in docs for t in doc],
}}))
""".format(texts=TOY_TEXTS)


def tagged_without_gpu(run_python, path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return json.loads(run_python("-c", LOAD_ON_CPU, path, env=env).stdout)


@needs_cuda
def test_network_moved_to_cuda_saves_a_pipeline_that_tags_on_cpu(toy_pipeline, tmp_path, run_python):
    nlp = spacy.load(toy_pipeline)
    docs = list(nlp.pipe(TOY_TEXTS))
    expected_probs = [t._.tag_prob for doc in docs for t in doc]
    network = nlp.get_pipe("lstm_tagger").model.network
    network.to("cuda")
    assert next(network.parameters()).is_cuda
    nlp.to_disk(tmp_path / "pipeline")
    result = tagged_without_gpu(run_python, tmp_path / "pipeline")
    assert result["tags"] == TOY_TAGS
    # The same weights, copied to the GPU and back: the same probabilities.
    assert result["probs"] == pytest.approx(expected_probs, abs=1e-6)


@needs_cuda
@needs_cupy
def test_pipeline_trained_on_gpu_tags_on_cpu(tmp_path, run_python):
    spacy.require_gpu(0)
    try:
        fix_random_seed(0)
        nlp = spacy.blank("en")
        nlp.add_pipe("lstm_tagger", config={"model": SMALL_MODEL})
        examples = toy_examples(nlp)
        optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
        for _ in range(30):
            nlp.update(examples, sgd=optimizer)
        assert next(nlp.get_pipe("lstm_tagger").model.network.parameters()).is_cuda
        docs = list(nlp.pipe(TOY_TEXTS))
        gpu_probs = [float(t._.tag_prob) for doc in docs for t in doc]
        assert tags_of(docs) == TOY_TAGS
        nlp.to_disk(tmp_path / "pipeline")
    finally:
        set_current_ops(NumpyOps())  # the other tests run on the CPU
    result = tagged_without_gpu(run_python, tmp_path / "pipeline")
    assert result["tags"] == TOY_TAGS
    # cuDNN's LSTM and the CPU's differ in the last digits only.
    assert result["probs"] == pytest.approx(gpu_probs, abs=1e-4)
