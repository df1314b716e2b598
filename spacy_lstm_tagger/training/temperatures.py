"""Calibrating `token._.tag_prob` and `token._.morph_prob` in training: the
temperatures of every lstm_tagger of a pipeline, fitted on the dev data after
each epoch and saved with the pipeline (the measures and the fit are in
pipeline/calibration.py).
"""
from typing import Dict, Sequence

import numpy
from spacy.language import Language
from spacy.training import Example

from ..pipeline.calibration import fit_temperature, log_probs_of, reliability, scale
from ..pipeline.gold import gold_labels


def fit_pipeline_temperatures(
    nlp: Language, examples: Sequence[Example], batch_size: int = 128
) -> Dict[str, Dict[str, float]]:
    """Fit the temperatures of every lstm_tagger in `nlp` on `examples` (dev
    data) and set them in the component's cfg, which is saved with the
    pipeline: tag_prob's, and morph_prob's where the FEATS strings are one
    head (`morph_mode = "whole"`; with one head per feature it stays 1).
    RETURNS (dict): per component, its tag "temperature" and the "ece_before"
        and "ece_after" of tag_prob on the examples.
    """
    docs = [eg.predicted for eg in examples]
    results = {}
    for name, pipe in nlp.pipeline:
        if nlp.get_pipe_meta(name).factory != "lstm_tagger":
            continue
        fitted = ["tag"] + (["morph"] if "morph" in pipe.layout and "morph" in pipe.heads else [])
        # Only the fitted heads' columns are kept: the lemma head's can be thousands.
        columns = numpy.concatenate([numpy.arange(pipe.layout.n_columns)[pipe.layout[h].columns] for h in fitted])
        flat = numpy.concatenate([
            pipe.model.ops.to_numpy(s)[:, columns]
            for start in range(0, len(docs), batch_size)
            for s in pipe.predict(docs[start : start + batch_size])
        ])
        n_tags = len(pipe.layout["tag"].labels)
        index = {label: i for i, label in enumerate(pipe.labels)}
        gold = numpy.array(
            [index.get(tag, -1) for eg in examples for tag in eg.get_aligned("TAG", as_string=True)],
            dtype="int64",
        )
        has_gold = gold >= 0  # tokens without a gold tag (or with an unknown one) do not count
        if "morph" in fitted:
            morph = gold_labels(list(examples), pipe.layout["morph"], "", name, with_teacher=False)
            if len(morph.rows):
                log_probs = log_probs_of(flat[morph.rows, n_tags:])
                pipe.cfg["morph_temperature"] = fit_temperature(log_probs, morph.columns)
        log_probs = log_probs_of(flat[has_gold, :n_tags])
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
