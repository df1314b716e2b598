"""Calibrating `token._.tag_prob` in training: the temperature of every
lstm_tagger of a pipeline, fitted on the dev data after each epoch and saved
with the pipeline (the measures and the fit are in pipeline/calibration.py).
"""
from typing import Dict, Sequence

import numpy
from spacy.language import Language
from spacy.training import Example

from ..pipeline.calibration import fit_temperature, log_probs_of, reliability, scale


def fit_pipeline_temperatures(
    nlp: Language, examples: Sequence[Example], batch_size: int = 128
) -> Dict[str, Dict[str, float]]:
    """Fit the temperature of every lstm_tagger in `nlp` on `examples` (dev
    data) and set it in the component's cfg, which is saved with the pipeline.
    RETURNS (dict): per component, its "temperature" and the "ece_before" and
        "ece_after" of tag_prob on the examples.
    """
    docs = [eg.predicted for eg in examples]
    results = {}
    for name, pipe in nlp.pipeline:
        if nlp.get_pipe_meta(name).factory != "lstm_tagger":
            continue
        tags = pipe.layout["tag"]
        scores = [
            pipe.model.ops.to_numpy(s)[:, tags.columns]
            for start in range(0, len(docs), batch_size)
            for s in pipe.predict(docs[start : start + batch_size])
        ]
        index = {label: i for i, label in enumerate(pipe.labels)}
        gold = numpy.array(
            [index.get(tag, -1) for eg in examples for tag in eg.get_aligned("TAG", as_string=True)],
            dtype="int64",
        )
        has_gold = gold >= 0  # tokens without a gold tag (or with an unknown one) do not count
        log_probs = log_probs_of(numpy.concatenate(scores)[has_gold])
        gold = gold[has_gold]
        if not len(gold):
            continue
        temperature = fit_temperature(log_probs, gold)
        correct = log_probs.argmax(axis=1) == gold
        results[name] = {
            "temperature": temperature,
            "ece_before": reliability(numpy.exp(log_probs.max(axis=1)), correct)["ece"],
            "ece_after": reliability(numpy.exp(scale(log_probs, temperature).max(axis=1)), correct)["ece"],
        }
        pipe.cfg["tag_temperature"] = temperature
    return results
