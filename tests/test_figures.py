"""`evaluation/figures.py`: what each picture of the report shows. Each figure
is drawn from data written out here, and its Figure (caught on its way to the
PNG) is read back: the plotted values, texts and colours as the report's
reader should see them, worked out by hand from that data."""
import struct

import pytest

from spacy_lstm_tagger.evaluation import figures

pytest.importorskip("matplotlib")
from matplotlib.colors import to_hex  # noqa: E402

BLUE, ORANGE = "#1f6fb4", "#d9822b"  # the lstm_tagger's colour, the other's


def drawn(draw, *args, **kwargs):
    """(PNG bytes, the Figure they were drawn from) of `draw(*args, **kwargs)`."""
    made = []
    make = figures._figure

    def recording(*a, **k):
        fig, axes = make(*a, **k)
        made.append(fig)
        return fig, axes

    figures._figure = recording
    try:
        png = draw(*args, **kwargs)
    finally:
        figures._figure = make
    assert len(made) == 1
    return png, made[0]


def png_size(png):
    """(width, height) in pixels, read from the PNG's header."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def line_data(line):
    return [list(map(float, line.get_xdata())), list(map(float, line.get_ydata()))]


def texts(ax):
    return [(t.get_position(), t.get_text(), to_hex(t.get_color()), t.get_fontsize()) for t in ax.texts]


def nan_as_none(values):
    return [None if v != v else v for v in values]


def test_available_and_what_is_missing():
    assert figures.available() is True  # matplotlib is imported above
    assert figures.MISSING == (
        "matplotlib is not installed, so this figure was not drawn: "
        'pip install "spacy-lstm-tagger[report]"'
    )


def test_literal_escapes_the_mathtext_dollar():
    assert figures.literal("$") == r"\$"
    assert figures.literal("a$b$") == r"a\$b\$"
    assert figures.literal(12) == "12"


def test_training_curves_plot_loss_and_both_accuracies():
    epochs = [
        {"epoch": 1, "loss": 5.0, "tag_acc": 0.5, "pos_acc": 0.25},
        {"epoch": 2, "loss": 3.0, "tag_acc": None, "pos_acc": None},  # no dev score: a gap
        {"epoch": 3, "loss": 2.0, "tag_acc": 0.75, "pos_acc": 0.5},
    ]
    png, fig = drawn(figures.training_curves, epochs)
    assert png_size(png) == (900, 320) and list(fig.get_size_inches()) == [9, 3.2]
    left, right = fig.axes
    assert left.get_position().x1 < right.get_position().x0  # side by side
    assert left.get_position().x0 < 0.1  # laid out tight: the default leaves 0.125
    (loss,) = left.get_lines()
    assert line_data(loss) == [[1, 2, 3], [5, 3, 2]]
    assert (loss.get_marker(), loss.get_color()) == (".", BLUE)
    assert (left.get_title(), left.get_xlabel()) == ("training loss", "epoch")
    tag, pos = right.get_lines()
    assert [line_data(tag)[0], nan_as_none(line_data(tag)[1])] == [[1, 2, 3], [0.5, None, 0.75]]
    assert [line_data(pos)[0], nan_as_none(line_data(pos)[1])] == [[1, 2, 3], [0.25, None, 0.5]]
    assert [(l.get_marker(), l.get_color(), l.get_label()) for l in (tag, pos)] == [
        (".", BLUE, "tag (XPOS)"), (".", ORANGE, "UPOS")
    ]
    assert (right.get_title(), right.get_xlabel()) == ("dev accuracy", "epoch")
    legend = right.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["tag (XPOS)", "UPOS"]
    assert legend._loc == 4  # "lower right"


def test_training_curves_without_upos_draw_one_accuracy():
    epochs = [{"epoch": 1, "loss": 1.0, "tag_acc": 0.5}, {"epoch": 2, "loss": 0.5, "tag_acc": 0.6, "pos_acc": None}]
    _, fig = drawn(figures.training_curves, epochs)
    (tag,) = fig.axes[1].get_lines()
    assert line_data(tag) == [[1, 2], [0.5, 0.6]]
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["tag (XPOS)"]


def test_confusion_shows_the_errors_only():
    tags = ["DET", "NN", "$"]
    # gold rows, predicted columns: 10 DET right, 2 DET taken for NN, 6 NN for DET, 1 NN for $.
    matrix = [[10, 2, 0], [6, 20, 1], [0, 0, 4]]
    png, fig = drawn(figures.confusion, tags, matrix)
    # 1 + 0.45 * 3 by 0.8 + 0.4 * 3 inches, at 100 dpi.
    assert list(fig.get_size_inches()) == pytest.approx([2.35, 2.0])
    assert png_size(png) == (235, 200)
    ax, bar = fig.axes  # the heatmap and its colour bar
    (image,) = ax.images
    assert image.get_array().tolist() == [[0, 2, 0], [6, 0, 1], [0, 0, 0]]
    assert image.get_cmap().name == "Reds"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["DET", "NN", r"\$"]
    assert [t.get_rotation() for t in ax.get_xticklabels()] == [90, 90, 90]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["DET", "NN", r"\$"]
    assert [t.get_rotation() for t in ax.get_yticklabels()] == [0, 0, 0]
    assert list(ax.get_xticks()) == [0, 1, 2] and list(ax.get_yticks()) == [0, 1, 2]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted", "gold", "confusions (errors only)")
    # A count above half the largest error (6) in white, on dark red; at (column, row).
    assert texts(ax) == [
        ((1, 0), "2", "#000000", 7), ((0, 1), "6", "#ffffff", 7), ((2, 1), "1", "#000000", 7)
    ]
    assert [(t.get_horizontalalignment(), t.get_verticalalignment()) for t in ax.texts] == [("center", "center")] * 3
    assert bar.get_position().height < ax.get_position().height  # shrunk to 0.8
    assert image.colorbar.ax is bar and bar.get_ylim() == (0, 6)  # the scale of the counts


def test_confusion_counts_at_exactly_half_the_largest_are_black():
    _, fig = drawn(figures.confusion, ["A", "B"], [[0, 4], [2, 0]])
    assert [(t.get_text(), to_hex(t.get_color())) for t in fig.axes[0].texts] == [("4", "#ffffff"), ("2", "#000000")]


def test_confusion_without_errors_draws_no_count():
    _, fig = drawn(figures.confusion, ["A", "B"], [[3, 0], [0, 5]])
    assert list(fig.axes[0].texts) == [] and fig.axes[0].images[0].get_array().tolist() == [[0, 0], [0, 0]]


BINS = [
    {"confidence": 0.5, "accuracy": 0.4, "tokens": 10},
    {"confidence": 0.9, "accuracy": 0.8, "tokens": 30},
]
BEFORE = [
    {"confidence": 0.6, "accuracy": 0.4, "tokens": 20},
    {"confidence": 0.95, "accuracy": 0.8, "tokens": 20},
]


def test_reliability_with_the_curve_before_scaling():
    png, fig = drawn(figures.reliability, BINS, BEFORE, temperature=1.456)
    assert png_size(png) == (420, 400)
    (ax,) = fig.axes
    diagonal, before, after = ax.get_lines()
    assert line_data(diagonal) == [[0, 1], [0, 1]]
    assert (diagonal.get_linestyle(), to_hex(diagonal.get_color()), diagonal.get_label()) == (
        "--", to_hex("grey"), "perfectly calibrated"
    )
    assert line_data(before) == [[0.6, 0.95], [0.4, 0.8]] and line_data(after) == [[0.5, 0.9], [0.4, 0.8]]
    assert [(l.get_color(), l.get_label()) for l in (before, after)] == [
        (ORANGE, "before temperature scaling"), (BLUE, "temperature 1.46")
    ]
    # Dots of 8 + 300 * tokens / 40 (the tokens of the scaled bins) points².
    dots_before, dots_after = ax.collections
    assert dots_before.get_offsets().tolist() == [[0.6, 0.4], [0.95, 0.8]]
    assert dots_after.get_offsets().tolist() == [[0.5, 0.4], [0.9, 0.8]]
    assert dots_before.get_sizes().tolist() == [158, 158] and dots_after.get_sizes().tolist() == [83, 233]
    assert [to_hex(d.get_facecolor()[0]) for d in (dots_before, dots_after)] == [ORANGE, BLUE]
    assert not dots_before.get_clip_on() and not dots_after.get_clip_on()
    assert (ax.get_xlim(), ax.get_ylim()) == ((0, 1), (0, 1))
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("confidence (tag_prob)", "accuracy", "reliability")
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "perfectly calibrated", "before temperature scaling", "temperature 1.46"
    ]
    assert legend._loc == 2 and legend.get_texts()[0].get_fontsize() == 8  # "upper left"


def test_reliability_before_scaling_at_the_default_temperature():
    _, fig = drawn(figures.reliability, BINS, BEFORE)
    assert fig.axes[0].get_lines()[2].get_label() == "temperature 1.00"


def test_reliability_without_scaling_is_one_curve_of_tag_prob():
    _, fig = drawn(figures.reliability, BINS)
    (ax,) = fig.axes
    assert [l.get_label() for l in ax.get_lines()] == ["perfectly calibrated", "tag_prob"]
    assert ax.get_lines()[1].get_color() == BLUE
    (dots,) = ax.collections
    assert dots.get_sizes().tolist() == [83, 233]


def test_kept_plots_accuracy_against_the_share_kept():
    points = [{"share": 1.0, "accuracy": 0.9}, {"share": 0.5, "accuracy": 0.99}]
    png, fig = drawn(figures.kept, points)
    assert png_size(png) == (460, 400)
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    assert line_data(line) == [[1.0, 0.5], [0.9, 0.99]] and line.get_color() == BLUE
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "share of tokens kept (most confident first)", "accuracy of the kept", "accuracy vs. tokens kept"
    )
    assert ax.xaxis_inverted() and not ax.yaxis_inverted()
    grid = ax.xaxis.get_gridlines()[0]
    assert grid.get_visible() and grid.get_alpha() == 0.3
    assert ax.yaxis.get_gridlines()[0].get_visible()


def test_bands_show_the_groups_that_have_tokens():
    seen = {"seen": {"tokens": 90, "accuracy": 0.95}, "unseen": {"tokens": 10, "accuracy": 0.5}}
    bands = [
        {"band": "1", "tokens": 5, "accuracy": 0.6},
        {"band": "2-10", "tokens": 0, "accuracy": None},  # no tokens: no bar
        {"band": "11+", "tokens": 95, "accuracy": 0.9375},
    ]
    png, fig = drawn(figures.bands, seen, bands)
    assert png_size(png) == (600, 300)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["seen", "unseen", "freq 1", "freq 11+"]
    assert [t.get_rotation() for t in ax.get_xticklabels()] == [30] * 4
    assert {t.get_rotation() for t in ax.get_yticklabels()} == {0}
    heights = [0.95, 0.5, 0.6, 0.9375]
    assert [p.get_height() for p in ax.patches] == heights
    assert [to_hex(p.get_facecolor()) for p in ax.patches] == [BLUE] * 4
    # Each accuracy written above the middle of its bar (bars 0.8 wide, at 0, 1, 2, 3).
    assert [(tuple(round(v, 9) for v in pos), text, size) for pos, text, _, size in texts(ax)] == [
        ((0, 0.95), "0.950", 8), ((1, 0.5), "0.500", 8), ((2, 0.6), "0.600", 8), ((3, 0.9375), "0.938", 8)
    ]
    assert [(t.get_horizontalalignment(), t.get_verticalalignment()) for t in ax.texts] == [("center", "bottom")] * 4
    assert ax.get_ylim() == (0, 1.08)
    assert (ax.get_ylabel(), ax.get_title()) == ("tag accuracy", "accuracy by word group")


def test_bands_without_unseen_words():
    seen = {"seen": {"tokens": 3, "accuracy": 1.0}, "unseen": {"tokens": 0, "accuracy": None}}
    _, fig = drawn(figures.bands, seen, [])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["seen"]


def test_compare_draws_both_f1s_side_by_side():
    rows = [
        {"tag": "NN", "f1": 0.5, "other_f1": 0.75},
        {"tag": "$", "f1": 0.25, "other_f1": 1.0},
        {"tag": "VB", "f1": 0.125, "other_f1": 0.5},
    ]
    png, fig = drawn(figures.compare, rows, "spaCy's $tagger", n_tags=2)
    # At most n_tags rows; max(5, 0.45 * 2 + 1.5) by 3.4 inches.
    assert png_size(png) == (500, 340)
    (ax,) = fig.axes
    bars = [v for p in ax.patches for v in (p.get_x(), p.get_width(), p.get_height())]
    assert bars == pytest.approx([-0.4, 0.4, 0.5, 0.6, 0.4, 0.25, 0.0, 0.4, 0.75, 1.0, 0.4, 1.0])
    assert [to_hex(p.get_facecolor()) for p in ax.patches] == [BLUE, BLUE, ORANGE, ORANGE]
    assert list(ax.get_xticks()) == [0, 1]
    assert [(t.get_text(), t.get_rotation()) for t in ax.get_xticklabels()] == [("NN", 90), (r"\$", 90)]
    assert ax.get_ylim() == (0, 1.05)
    assert (ax.get_ylabel(), ax.get_title()) == ("F1", "per-tag F1 where the two differ most")
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["lstm_tagger", r"spaCy's \$tagger"]
    assert legend._loc == 3 and legend.get_texts()[0].get_fontsize() == 8  # "lower left"


def test_compare_of_many_tags_grows_wider():
    rows = [{"tag": f"T{i}", "f1": 0.5, "other_f1": 0.5} for i in range(30)]
    png, fig = drawn(figures.compare, rows, "other")
    # The first 20 by default: 0.45 * 20 + 1.5 = 10.5 inches.
    assert png_size(png) == (1050, 340) and len(fig.axes[0].patches) == 40
    assert fig.axes[0].get_ylim() == (0, 1.05)  # the same scale, whatever the F1s


def test_a_user_s_matplotlib_settings_do_not_change_the_png():
    import matplotlib

    with matplotlib.rc_context({"savefig.format": "svg", "savefig.dpi": 50, "figure.dpi": 50}):
        png = figures.kept([{"share": 1.0, "accuracy": 0.9}])
    assert png_size(png) == (460, 400)
