"""Does `token._.tag_prob` mean what it says? Measuring it, and temperature scaling.

A token whose tag has probability 0.9 should be right 9 times in 10. The expected
calibration error (ECE) is the gap between confidence and accuracy, averaged over
confidence bins weighted by their tokens. Temperature scaling (Guo et al. 2017,
"On Calibration of Modern Neural Networks") divides the scores by one number T,
fitted on dev data to minimise the log-loss: T > 1 tempers an over-confident
model. It never changes which tag is the most likely, so the tags stay the same.
"""
from typing import Dict, List, Optional, Sequence

import numpy

N_BINS = 10
# The temperatures a fit can give, and so the only ones a saved model may hold:
# tiny ones turn every tag_prob into 1 or NaN, huge ones into 1 / the number of
# tags.
TEMPERATURE_RANGE = (0.1, 20.0)


def temperature_problem(temperature) -> Optional[str]:
    """What is wrong with a temperature, or None."""
    low, high = TEMPERATURE_RANGE
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not low <= temperature <= high  # also refuses NaN
    ):
        return f"must be a number from {low:g} to {high:g} (the range a fit gives), got {temperature!r}"
    return None


def reliability(probs: numpy.ndarray, correct: numpy.ndarray, n_bins: int = N_BINS) -> Dict:
    """Bin the tokens by confidence into `n_bins` equal-width bins of [0, 1].
    RETURNS (dict): "ece" and, for each bin with tokens, its "low" and "high"
        edges, "tokens", mean "confidence" and "accuracy".
    """
    probs = numpy.asarray(probs, dtype="float64")
    correct = numpy.asarray(correct, dtype="float64")
    # A confidence of exactly 1.0 belongs in the top bin.
    which = numpy.minimum((probs * n_bins).astype("int64"), n_bins - 1)
    bins = []
    ece = 0.0
    for b in range(n_bins):
        members = which == b
        n = int(members.sum())
        if not n:
            continue
        confidence, accuracy = float(probs[members].mean()), float(correct[members].mean())
        ece += n / len(probs) * abs(accuracy - confidence)
        bins.append(
            {"low": b / n_bins, "high": (b + 1) / n_bins, "tokens": n,
             "confidence": confidence, "accuracy": accuracy}
        )
    return {"ece": ece, "bins": bins}


def kept_curve(probs: numpy.ndarray, correct: numpy.ndarray, shares: Sequence[float]) -> List[Dict]:
    """Accuracy on the most confident tokens, when only a share of them is kept
    (the rest being set aside for review). RETURNS (list): for each share, the
    "share", the "threshold" (lowest confidence kept), "tokens" and "accuracy".
    """
    order = numpy.argsort(-numpy.asarray(probs), kind="stable")
    ranked_probs = numpy.asarray(probs)[order]
    right_so_far = numpy.cumsum(numpy.asarray(correct)[order])
    points = []
    for share in shares:
        kept = max(1, int(numpy.ceil(share * len(order) - 1e-9)))
        points.append(
            {"share": share, "threshold": float(ranked_probs[kept - 1]), "tokens": kept,
             "accuracy": float(right_so_far[kept - 1] / kept)}
        )
    return points


def log_probs_of(probs: numpy.ndarray) -> numpy.ndarray:
    """log(probs), with probabilities that underflowed to 0 read as the
    smallest float32 (log about -87), so that every log-probability is finite."""
    return numpy.log(numpy.maximum(probs, numpy.finfo("float32").tiny))


def scale(log_probs: numpy.ndarray, temperature: float) -> numpy.ndarray:
    """Log-probabilities of the same scores divided by `temperature`."""
    if temperature == 1.0:
        return log_probs
    scaled = log_probs / temperature
    top = scaled.max(axis=1, keepdims=True)
    return scaled - (top + numpy.log(numpy.exp(scaled - top).sum(axis=1, keepdims=True)))


def tempered_best(probs: numpy.ndarray, best: numpy.ndarray, temperature: float) -> numpy.ndarray:
    """The probability of column `best` of each row of `probs` once the scores
    behind them are divided by `temperature`: p_best^(1/T) / sum_j p_j^(1/T),
    the same value as exp(scale(log(probs), T)) there, without building the
    whole tempered table (one pass over it where `scale` makes six)."""
    rows = numpy.arange(len(probs))
    if temperature == 1.0:
        return probs[rows, best].astype("float64")
    relative = numpy.divide(probs, probs[rows, best][:, None])
    numpy.power(relative, 1.0 / temperature, out=relative)
    return 1.0 / relative.sum(axis=1, dtype="float64")


def fit_temperature(log_probs: numpy.ndarray, gold: numpy.ndarray) -> float:
    """The temperature that minimises the mean negative log-likelihood of the
    gold columns `gold` (one per row of `log_probs`). The loss is convex in 1/T,
    so a golden-section search over log(1/T) finds it."""
    log_probs = numpy.asarray(log_probs, dtype="float64")
    gold_scores = log_probs[numpy.arange(len(gold)), gold]

    def loss(log_inverse_t: float) -> float:
        inverse_t = numpy.exp(log_inverse_t)
        scaled = log_probs * inverse_t
        top = scaled.max(axis=1)
        log_z = top + numpy.log(numpy.exp(scaled - top[:, None]).sum(axis=1))
        return float((log_z - inverse_t * gold_scores).mean())

    # The search runs over log(1/T).
    low, high = -numpy.log(TEMPERATURE_RANGE[1]), -numpy.log(TEMPERATURE_RANGE[0])
    ratio = (numpy.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    while high - low > 1e-4:
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    # Within the range also where rounding would step past an end.
    return min(max(float(1.0 / numpy.exp((low + high) / 2)), TEMPERATURE_RANGE[0]), TEMPERATURE_RANGE[1])
