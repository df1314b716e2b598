"""The component's cfg file: what its trained model fixes, and the checks every
entry read from disk passes. Every other setting comes from the config
(config.cfg, or spacy.load(..., config=...)).
"""
from collections import Counter
from copy import deepcopy
from typing import Any, Dict

from spacy.parts_of_speech import IDS as UPOS_IDS

from .lemma_rules import checked_lexicon, checked_lookup, checked_rules
from .morphology import checked_feature_labels, checked_whole_labels
from .calibration import temperature_problem
from .layout import label_problem

# The entries, with their defaults. tag_temperature divides the scores behind
# tag_prob/tag_top_k, morph_temperature those behind morph_prob; the train
# command fits them on dev. morph_labels are the
# whole FEATS strings of the "whole" morph head, morph_features the values of
# each per-feature head (morphology.py); lemma_rules are the lemma head's
# labels as [casing, strip_prefix, add_prefix, strip_suffix, add_suffix],
# lemma_lookup {tag: {form: lemma}} of the pairs seen twice or more,
# lemma_seen_once the same of those seen once, lemma_lexicon the training
# data's lemmas, lowercased (lemma_rules.py). Files from before these entries
# existed have none of them: no such heads (no lexicon: no rule is preferred
# for its lemma).
SAVED_CFG = {
    "labels": [],
    "pos_labels": [],
    "tag_temperature": 1.0,
    "morph_temperature": 1.0,
    "morph_labels": [],
    "morph_features": {},
    "lemma_rules": [],
    "lemma_lookup": {},
    "lemma_seen_once": {},
    "lemma_lexicon": [],
}


def checked_cfg(cfg: Any) -> Dict[str, Any]:
    """A copy of a saved cfg with every entry present, refused (ValueError,
    saying what is wrong) unless every entry is valid. The one place where a
    saved cfg entry is checked."""
    if not isinstance(cfg, dict):
        raise ValueError("the cfg is not a JSON object")
    unknown = sorted(set(cfg) - set(SAVED_CFG))
    if unknown:
        raise ValueError(f"the cfg has unknown entries {unknown}")
    for key in ("labels", "pos_labels"):
        labels = cfg.get(key, [])
        if not isinstance(labels, list) or not all(isinstance(v, str) and v for v in labels):
            raise ValueError(f"cfg {key!r} is not a list of non-empty strings: {labels!r:.200}")
        for label in labels:
            problem = label_problem(label)
            if problem:
                raise ValueError(f"cfg {key!r} has the label {label!r}, which {problem}")
        repeated = sorted(label for label, n in Counter(labels).items() if n > 1)
        if repeated:
            raise ValueError(f"cfg {key!r} has repeated labels {repeated}")
    bad_pos = [label for label in cfg.get("pos_labels", []) if label not in UPOS_IDS]
    if bad_pos:
        raise ValueError(f"cfg 'pos_labels' has non-UPOS labels {bad_pos}")
    for key in ("tag_temperature", "morph_temperature"):
        problem = temperature_problem(cfg.get(key, SAVED_CFG[key]))
        if problem:
            raise ValueError(f"cfg {key!r} {problem}")
    checked_whole_labels(cfg.get("morph_labels", []), "cfg 'morph_labels'")
    checked_feature_labels(cfg.get("morph_features", {}), "cfg 'morph_features'")
    if cfg.get("morph_labels") and cfg.get("morph_features"):
        raise ValueError("cfg has both 'morph_labels' and 'morph_features': one morph mode only")
    checked_rules(cfg.get("lemma_rules", []), "cfg 'lemma_rules'")
    checked_lookup(cfg.get("lemma_lookup", {}), "cfg 'lemma_lookup'")
    checked_lookup(cfg.get("lemma_seen_once", {}), "cfg 'lemma_seen_once'")
    checked_lexicon(cfg.get("lemma_lexicon", []), "cfg 'lemma_lexicon'")
    # Copies: add_label must not change the caller's lists, or SAVED_CFG's.
    return {key: deepcopy(cfg.get(key, default)) for key, default in SAVED_CFG.items()}
