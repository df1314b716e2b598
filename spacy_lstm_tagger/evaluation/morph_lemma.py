"""The figures of features (`token.morph`, CoNLL-U FEATS) and lemmas
(`token.lemma_`) for `evaluate`, where the pipeline writes them and the gold
corpus has them.

Features are counted as spaCy's Scorer counts them (`morph_acc`,
`morph_per_feat`, `morph_micro_*`): whole FEATS strings over the tokens with
gold FEATS ("_" included); per feature, "Feature=Value" pairs over the tokens
whose gold FEATS is not "_", a wrong value being both a false positive and a
false negative; a multiple value ("PronType=Int,Rel") is one value. Lemmas as
spaCy's `lemma_acc`: over the tokens with a gold lemma.
"""
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import numpy

from ..pipeline.morphology import EMPTY, feats_dict, has_features

N_ERRORS = 25


def not_evaluated(gold: numpy.ndarray, guess: numpy.ndarray, written: bool, kind: str) -> Optional[str]:
    """Why `kind` ("morph" or "lemma") is not evaluated, or None if it is.

    gold, guess: the gold and predicted FEATS strings (or lemmas) of each token.
    written: the lstm_tagger writes the attribute; another component may too.
    """
    if kind == "morph":
        gold_has, gold_name, attr = has_features(gold.tolist()), "FEATS", "token.morph"
    else:
        gold_has, gold_name, attr = bool((gold != "").any()), "lemmas", "token.lemma_"
    if not gold_has:
        return f"the gold corpus has no {gold_name}"
    if not (written or (guess != "").any()):
        return f"the pipeline writes no {attr}"
    return None


def share_right(right: numpy.ndarray) -> Dict:
    return {"tokens": int(len(right)), "accuracy": float(right.mean()) if len(right) else None}


def seen_split(right: numpy.ndarray, has_gold: numpy.ndarray, seen: numpy.ndarray) -> Dict:
    return {
        group: share_right(right[has_gold & mask])
        for group, mask in (("seen", seen), ("unseen", ~seen))
    }


def morph_figures(words: Sequence[str], gold: numpy.ndarray, guess: numpy.ndarray, seen: numpy.ndarray) -> Dict:
    """Features: whole-FEATS accuracy (all, seen, unseen), per-feature and
    micro precision/recall/F1, and the most frequent errors.

    gold, guess (numpy.ndarray): FEATS strings of each token, "_" for none,
        "" where the token has no FEATS (gold: not annotated).
    """
    has_gold = gold != ""
    right = guess == gold
    counts: Dict[str, Dict[str, int]] = {}
    value_errors: Counter = Counter()
    whole_errors: Counter = Counter()
    example: Dict[Tuple, str] = {}
    for word, g, p in zip(words, gold.tolist(), guess.tolist()):
        if not g:
            continue
        if g != p:
            whole_errors[(g, p)] += 1
            example.setdefault((g, p), word)
        if g == EMPTY:  # spaCy's per-feature scores leave these tokens out
            continue
        g_values, p_values = feats_dict(g), feats_dict(p)
        for feature in sorted(set(g_values) | set(p_values)):
            c = counts.setdefault(feature, {"tp": 0, "fp": 0, "fn": 0, "either": 0})
            c["either"] += 1
            gv, pv = g_values.get(feature), p_values.get(feature)
            if gv == pv:
                c["tp"] += 1
                continue
            c["fn"] += gv is not None
            c["fp"] += pv is not None
            key = (feature, gv or EMPTY, pv or EMPTY)
            value_errors[key] += 1
            example.setdefault(key, word)
    total = {k: sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn")}
    return {
        "tokens": int(has_gold.sum()),
        "accuracy": share_right(right[has_gold])["accuracy"],
        "seen": seen_split(right, has_gold, seen),
        "micro": prf(total),
        "per_feature": sorted(
            (
                {"feature": feature, "accuracy": c["tp"] / c["either"], **prf(c),
                 "support": c["tp"] + c["fn"],
                 "errors": c["either"] - c["tp"]}
                for feature, c in counts.items()
            ),
            key=lambda r: (-r["errors"], -r["support"], r["feature"]),
        ),
        "errors": [
            {"gold": g, "predicted": p, "count": n, "word": example[(g, p)]}
            for (g, p), n in most_common(whole_errors)
        ],
        "value_errors": [
            {"feature": f, "gold": g, "predicted": p, "count": n, "word": example[(f, g, p)]}
            for (f, g, p), n in most_common(value_errors)
        ],
    }


def prf(c: Dict[str, int]) -> Dict[str, float]:
    """Precision, recall and F1 of true/false positive/negative counts (0.0
    where undefined, as spaCy's PRFScore)."""
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
    }


def lemma_figures(words: Sequence[str], gold: numpy.ndarray, guess: numpy.ndarray, seen: numpy.ndarray) -> Dict:
    """Lemma accuracy (all, seen, unseen) and the most frequent (form, gold
    lemma, predicted lemma) errors; gold "" is no gold lemma."""
    has_gold = gold != ""
    right = guess == gold
    errors = Counter(
        (word, g, p) for word, g, p in zip(words, gold.tolist(), guess.tolist()) if g and g != p
    )
    return {
        "tokens": int(has_gold.sum()),
        "accuracy": share_right(right[has_gold])["accuracy"],
        "seen": seen_split(right, has_gold, seen),
        "errors": [
            {"word": w, "gold": g, "predicted": p, "count": n} for (w, g, p), n in most_common(errors)
        ],
    }


def most_common(counter: Counter, n: int = N_ERRORS) -> List[Tuple]:
    """The `n` most frequent, ties in the order first met (Counter keeps it)."""
    return counter.most_common(n)
