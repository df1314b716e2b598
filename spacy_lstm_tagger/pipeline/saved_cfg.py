"""The component's cfg file: what its trained model fixes, and the checks every
entry read from disk passes. Every other setting comes from the config
(config.cfg, or spacy.load(..., config=...)).
"""
from collections import Counter
from copy import deepcopy
from typing import Any, Dict

from spacy.parts_of_speech import IDS as UPOS_IDS

from .calibration import temperature_problem
from .layout import label_problem

# The entries, with their defaults. tag_temperature divides the scores behind
# tag_prob/tag_top_k; the train command fits it on dev.
SAVED_CFG = {"labels": [], "pos_labels": [], "tag_temperature": 1.0}


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
    problem = temperature_problem(cfg.get("tag_temperature", SAVED_CFG["tag_temperature"]))
    if problem:
        raise ValueError(f"cfg 'tag_temperature' {problem}")
    # Copies: add_label must not change the caller's lists, or SAVED_CFG's.
    return {key: deepcopy(cfg.get(key, default)) for key, default in SAVED_CFG.items()}
