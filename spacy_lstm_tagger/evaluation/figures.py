"""The report's and the training curves' pictures, as PNG bytes.

matplotlib is an optional extra (`pip install spacy-lstm-tagger[report]`): the
rest of the package never needs it, and `MISSING` says what to install. It is
imported only when a figure is drawn, and each figure is a `Figure` of its own
on the Agg canvas: pyplot's global state and backend (a notebook's, say) are
never touched.
"""
import importlib.util
import io
from typing import Dict, List, Optional, Tuple

MISSING = (
    "matplotlib is not installed, so this figure was not drawn: "
    'pip install "spacy-lstm-tagger[report]"'
)
OURS, OTHER = "#1f6fb4", "#d9822b"


def available() -> bool:
    """Whether matplotlib is installed (found without importing it)."""
    return importlib.util.find_spec("matplotlib") is not None


def _figure(figsize: Tuple[float, float], ncols: int = 1):
    """A Figure of its own with `ncols` axes, drawn on the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, axes


def literal(text: str) -> str:
    """`text` as matplotlib draws it literally: a `$` would start mathtext
    (a tag like `$\\frac$` fails to draw)."""
    return str(text).replace("$", r"\$")


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=100)
    return out.getvalue()


def training_curves(epochs: List[Dict]) -> bytes:
    """Loss and dev accuracy per epoch (training-log.json's rows)."""
    fig, (left, right) = _figure((9, 3.2), ncols=2)
    x = [row["epoch"] for row in epochs]
    left.plot(x, [row["loss"] for row in epochs], marker=".", color=OURS)
    left.set(title="training loss", xlabel="epoch")
    # An epoch without a dev score (a dev set without tags) is a gap.
    right.plot(x, _values(epochs, "tag_acc"), marker=".", color=OURS, label="tag (XPOS)")
    if any(row.get("pos_acc") is not None for row in epochs):
        right.plot(x, _values(epochs, "pos_acc"), marker=".", color=OTHER, label="UPOS")
    right.set(title="dev accuracy", xlabel="epoch")
    right.legend(loc="lower right")
    return _png(fig)


def _values(rows: List[Dict], key: str) -> List[float]:
    return [float("nan") if row.get(key) is None else row[key] for row in rows]


def confusion(tags: List[str], matrix: List[List[int]]) -> bytes:
    """Heatmap of gold (rows) by predicted (columns) counts, errors only."""
    n = len(tags)
    errors = [[0 if i == j else matrix[i][j] for j in range(n)] for i in range(n)]
    fig, ax = _figure((1.0 + 0.45 * n, 0.8 + 0.4 * n))
    image = ax.imshow(errors, cmap="Reds")
    labels = [literal(tag) for tag in tags]
    ax.set_xticks(range(n), labels, rotation=90)
    ax.set_yticks(range(n), labels)
    ax.set(xlabel="predicted", ylabel="gold", title="confusions (errors only)")
    top = max(max(row) for row in errors) or 1
    for i in range(n):
        for j in range(n):
            if errors[i][j]:
                color = "white" if errors[i][j] > top / 2 else "black"
                ax.text(j, i, errors[i][j], ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _png(fig)


def reliability(
    bins: List[Dict], before: Optional[List[Dict]] = None, temperature: float = 1.0, attribute: str = "tag_prob"
) -> bytes:
    """Accuracy against confidence (token._.`attribute`) per bin, with the
    diagonal of a perfectly calibrated tagger; `before`: the bins without
    temperature scaling."""
    fig, ax = _figure((4.2, 4))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    curves = [(before, OTHER, "before temperature scaling")] if before else []
    curves.append((bins, OURS, f"temperature {temperature:.2f}" if before else attribute))
    total = sum(b["tokens"] for b in bins)
    for points, color, label in curves:
        x, y = [b["confidence"] for b in points], [b["accuracy"] for b in points]
        ax.plot(x, y, color=color, label=label)
        # A dot's area grows with its bin's tokens: a bin of a few tokens says little.
        ax.scatter(x, y, s=[8 + 300 * b["tokens"] / total for b in points], color=color, clip_on=False)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"confidence ({attribute})", ylabel="accuracy",
           title="reliability")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def kept(points: List[Dict]) -> bytes:
    """Accuracy on the tokens kept when the least confident are set aside."""
    fig, ax = _figure((4.6, 4))
    ax.plot([p["share"] for p in points], [p["accuracy"] for p in points], color=OURS)
    ax.set(xlabel="share of tokens kept (most confident first)", ylabel="accuracy of the kept",
           title="accuracy vs. tokens kept")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    return _png(fig)


def bands(seen: Dict, frequency_bands: List[Dict]) -> bytes:
    """Accuracy on seen/unseen words and by frequency band."""
    groups = [("seen", seen["seen"]), ("unseen", seen["unseen"])]
    groups += [(f"freq {b['band']}", b) for b in frequency_bands]
    groups = [(name, g) for name, g in groups if g["tokens"]]
    fig, ax = _figure((6, 3))
    bars = ax.bar([name for name, _ in groups], [g["accuracy"] for _, g in groups], color=OURS)
    for bar, (_, g) in zip(bars, groups):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{g['accuracy']:.3f}",
                ha="center", va="bottom", fontsize=8)
    ax.set(ylim=(0, 1.08), ylabel="tag accuracy", title="accuracy by word group")
    ax.tick_params(axis="x", labelrotation=30)
    return _png(fig)


def compare(rows: List[Dict], other_name: str, n_tags: int = 20) -> bytes:
    """Per-tag F1 of both pipelines, for the tags where they differ most."""
    rows = rows[:n_tags]
    fig, ax = _figure((max(5, 0.45 * len(rows) + 1.5), 3.4))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["f1"] for r in rows], width=0.4, color=OURS, label="lstm_tagger")
    ax.bar([i + 0.2 for i in x], [r["other_f1"] for r in rows], width=0.4, color=OTHER, label=literal(other_name))
    ax.set_xticks(list(x), [literal(r["tag"]) for r in rows], rotation=90)
    ax.set(ylim=(0, 1.05), ylabel="F1", title="per-tag F1 where the two differ most")
    ax.legend(loc="lower left", fontsize=8)
    return _png(fig)
