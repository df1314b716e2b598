"""Which heads a model has, from its saved cfg, and the morph and lemma tables
that initialize learns from the examples' gold values.
"""
from typing import Any, Dict, List, Sequence

from spacy.training import Example

from .lemma_rules import build_lexicon, build_lookup, checked_rules, has_control_chars, rules_seen
from .morphology import FEATURE_HEAD, MORPH_MODES, feature_labels, has_features, whole_labels

# The attributes the component can write, in the order of their heads.
ANNOTATABLE = ("tag", "pos", "morph", "lemma")
# Times a (form, tag) pair must be seen, always with one lemma, for the lookup
# ("lemma_lookup"); the pairs seen once are "lemma_seen_once".
LOOKUP_MIN_COUNT = 2


def annotate_problems(annotate: Any, morph_mode: Any) -> List[str]:
    """[messages] for an `annotate` or `morph_mode` setting that is not valid."""
    problems = []
    if isinstance(annotate, str) or not isinstance(annotate, (list, tuple)):
        problems.append(f"annotate={annotate!r} is not a list of attributes")
    elif not set(annotate) <= set(ANNOTATABLE) or len(set(annotate)) != len(annotate):
        problems.append(
            f"annotate={list(annotate)!r} is not a list of distinct attributes of {', '.join(ANNOTATABLE)}"
        )
    if morph_mode not in MORPH_MODES:
        problems.append(f"morph_mode={morph_mode!r} is not one of {', '.join(MORPH_MODES)}")
    return problems


def head_labels(cfg: Dict[str, Any]) -> Dict[str, Sequence[str]]:
    """The labels of each head of a saved cfg, as OutputLayout takes them."""
    labels: Dict[str, Sequence[str]] = {"tag": cfg["labels"], "pos": cfg["pos_labels"]}
    if cfg["morph_labels"]:
        labels["morph"] = cfg["morph_labels"]
    for feature in sorted(cfg["morph_features"]):
        labels[FEATURE_HEAD + feature] = cfg["morph_features"][feature]
    if cfg["lemma_rules"]:
        labels["lemma"] = [rule.label for rule in checked_rules(cfg["lemma_rules"])]
    return labels


def gold_feats(examples: List[Example]) -> List[str]:
    """The gold FEATS string of every reference token that has one ("_": none)."""
    return [str(t.morph) or "_" for eg in examples for t in eg.reference if t.has_morph()]


def morph_tables(examples: List[Example], given: Dict[str, Any], mode: str, wanted: bool) -> Dict[str, Any]:
    """The cfg's "morph_labels" (whole) or "morph_features" (per_feature), from
    `given` (initialize's labels) or else the examples; {} if not `wanted`."""
    if not wanted:
        return {}
    key = "morph_labels" if mode == "whole" else "morph_features"
    for saved in ("morph_labels", "morph_features"):
        if given.get(saved):
            return {saved: given[saved]}
    feats = gold_feats(examples)
    if not has_features(feats):
        raise ValueError(
            "annotate has 'morph', but no example has gold morphological features "
            "(token.morph): remove 'morph' from annotate, or give examples with features"
        )
    return {key: whole_labels(feats) if mode == "whole" else feature_labels(feats)}


def lemma_tables(
    examples: List[Example], given: Dict[str, Any], wanted: bool, min_count: int = 1
) -> Dict[str, Any]:
    """The cfg's "lemma_rules" (from `given`, or the rules of the examples'
    form -> lemma pairs seen `min_count` times or more, at least the most
    frequent one), "lemma_lookup", "lemma_seen_once" and "lemma_lexicon" (from
    the examples); {} if not `wanted`."""
    if not wanted:
        return {}
    tokens = [
        t for eg in examples for t in eg.reference
        if t.lemma_ and not has_control_chars(t.text + t.lemma_)
    ]
    if given.get("lemma_rules"):
        rules = given["lemma_rules"]
    elif tokens:
        rules = [list(rule) for rule in rules_seen(((t.text, t.lemma_) for t in tokens), min_count)]
    else:
        raise ValueError(
            "annotate has 'lemma', but no example has gold lemmas (token.lemma_): "
            "remove 'lemma' from annotate, or give examples with lemmas"
        )
    triples = [(t.text, t.tag_, t.lemma_) for t in tokens if t.tag_]
    return {
        "lemma_rules": rules,
        "lemma_lookup": build_lookup(triples, LOOKUP_MIN_COUNT),
        "lemma_seen_once": build_lookup(triples, 1, max_count=LOOKUP_MIN_COUNT - 1),
        "lemma_lexicon": build_lexicon(t.lemma_ for t in tokens),
    }
