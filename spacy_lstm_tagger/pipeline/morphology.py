"""Morphological features as heads: the UD FEATS string of each token.

Two ways to learn them (the component's `morph_mode`):
- "whole": one head whose labels are whole FEATS strings ("Case=Nom|Number=Sing"),
  as spaCy's morphologizer and UDPipe 2 do; "_" is the label of no features.
- "per_feature": one head per feature ("morph:Case"), whose labels are the
  feature's values and "_" (absent), as Stanza does; the predicted FEATS string
  joins the features that are not absent, so combinations never seen in
  training can be predicted.
"""
from collections import Counter
from typing import Any, Dict, Iterable, List, Sequence

from spacy.morphology import Morphology

from .lemma_rules import has_control_chars

MORPH_MODES = ("whole", "per_feature")
EMPTY = "_"  # no features (whole) / the feature is absent (per_feature)
FEATURE_HEAD = "morph:"  # a per-feature head is named "morph:" + the feature


def feats_dict(feats: str) -> Dict[str, str]:
    """{"Case": "Nom", ...} of a FEATS string ("_" and "" have none)."""
    if feats in ("", EMPTY):
        return {}
    return Morphology.feats_to_dict(feats)


def joined(features: Dict[str, str]) -> str:
    """The normalised FEATS string of {feature: value} ("_" for none), in
    spaCy's order (features sorted by name)."""
    return "|".join(f"{name}={value}" for name, value in sorted(features.items())) or EMPTY


def whole_labels(feats: Iterable[str]) -> List[str]:
    """The whole-mode labels of gold FEATS strings, normalised, sorted."""
    return sorted({joined(feats_dict(value)) for value in feats})


def feature_labels(feats: Iterable[str]) -> Dict[str, List[str]]:
    """{feature: ["_", values sorted...]} of gold FEATS strings."""
    values: Dict[str, set] = {}
    for value in feats:
        for name, feature_value in feats_dict(value).items():
            values.setdefault(name, set()).add(feature_value)
    return {name: [EMPTY] + sorted(values[name]) for name in sorted(values)}


def head_gold(feats: str, head_name: str) -> str:
    """The gold label of head `head_name` for a gold FEATS string ("" missing)."""
    if not feats:
        return ""
    if head_name == "morph":
        return joined(feats_dict(feats))
    return feats_dict(feats).get(head_name[len(FEATURE_HEAD) :], EMPTY)


def predicted_feats(labels_per_head: Dict[str, Sequence[str]], n_tokens: int) -> List[str]:
    """Each token's FEATS string from its best label of each morph head."""
    if "morph" in labels_per_head:
        return list(labels_per_head["morph"])
    found: List[Dict[str, str]] = [{} for _ in range(n_tokens)]
    for head_name, labels in labels_per_head.items():
        feature = head_name[len(FEATURE_HEAD) :]
        for features, label in zip(found, labels):
            if label != EMPTY:
                features[feature] = label
    return [joined(features) for features in found]


def has_features(feats: Iterable[str]) -> bool:
    """Whether any FEATS string says something (not only "_" or unset)."""
    return any(value not in ("", EMPTY) for value in feats)


def checked_whole_labels(labels: Any, where: str = "morph_labels") -> List[str]:
    """Saved whole-mode labels, or ValueError naming the entry."""
    if not isinstance(labels, list):
        raise ValueError(f"{where} is not a list: {labels!r:.200}")
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not _well_formed(label) or joined(feats_dict(label)) != label:
            raise ValueError(f"{where} entry {i} is not a normalised FEATS string: {label!r:.200}")
    _no_repeats(labels, where)
    return labels


def checked_feature_labels(features: Any, where: str = "morph_features") -> Dict[str, List[str]]:
    """Saved per-feature labels, or ValueError naming the entry."""
    if not isinstance(features, dict):
        raise ValueError(f"{where} is not a JSON object: {features!r:.200}")
    for name, values in features.items():
        if not _is_name(name):
            raise ValueError(f"{where} has a bad feature name {name!r:.100}")
        if (
            not isinstance(values, list)
            or len(values) < 2
            or values[0] != EMPTY
            or not all(_is_value(value) for value in values[1:])
        ):
            raise ValueError(
                f"{where} entry {name!r} is not ['_', values...] of FEATS values: {values!r:.200}"
            )
        _no_repeats(values, f"{where} entry {name!r}")
    return features


def _well_formed(feats: str) -> bool:
    if feats == EMPTY:
        return True
    pairs = [pair.split("=") for pair in feats.split("|")]
    return all(len(pair) == 2 and _is_name(pair[0]) and _is_value(pair[1]) for pair in pairs)


def _is_name(name: Any) -> bool:
    return _is_text(name) and not set(name) & set("=|, ")


def _is_value(value: Any) -> bool:
    return _is_text(value) and value != EMPTY and not set(value) & set("=| ")


def _is_text(text: Any) -> bool:
    return isinstance(text, str) and bool(text) and not has_control_chars(text)


def _no_repeats(labels: List[str], where: str) -> None:
    repeated = sorted(label for label, n in Counter(labels).items() if n > 1)
    if repeated:
        raise ValueError(f"{where} has repeated labels {repeated[:5]}")
