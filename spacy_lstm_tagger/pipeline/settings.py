"""The model's settings, each declared once: its name, default, range and meaning.

The architecture's signature (`build_lstm_tagger`), the `ModelSettings` record,
the checks of a config and of a model file, and the settings table of the docs
(`settings_table`) are all derived from `SETTINGS`. A setting marked `shape`
fixes the shapes of the weights: it is stored in the model file, and a saved
model loads only into a config with the same value. The others may change
between training and loading (a fine-tuning config, `spacy.load(..., config=...)`).
"""
import math
from dataclasses import dataclass, make_dataclass
from typing import Any, List, Optional, Tuple

# Tokens per network pass: enough for any ordinary batch, and a bound on the
# memory a huge Doc needs; no segment or LSTM group is longer.
TOKENS_PER_PASS = 4096
ENGINES = ("torch", "onnx")
PRECISIONS = ("float32", "bfloat16", "auto")


@dataclass(frozen=True)
class Setting:
    """One setting of the model's config.

    kind: "whole" (an int from `low` to `high`, None: no limit), "rate" (a
        float from 0 up to 1), "share" (a float from 0 to 1, both included)
        or "choice" (one of `choices`).
    shape: whether it fixes the shapes of the weights (stored in the model file).
    doc: what it means, one sentence or two, for the docs and the docstring.
    """

    name: str
    default: Any
    kind: str
    doc: str
    low: int = 1
    high: Optional[int] = None
    choices: Tuple[str, ...] = ()
    shape: bool = False

    @property
    def type(self) -> type:
        return {"whole": int, "rate": float, "share": float, "choice": str}[self.kind]

    def problems(self, value: Any) -> List[str]:
        """[a message naming the setting and the value] unless `value` fits."""
        if self.kind == "rate":
            return rate_problems(self.name, value)
        if self.kind == "share":
            return finite_number_problems(self.name, value, 0, 1)
        if self.kind == "choice":
            if value not in self.choices:
                return [f"{self.name}={value!r} is not one of {', '.join(self.choices)}"]
            return []
        return whole_number_problems(self.name, value, self.low, self.high)


def whole_number_problems(name: str, value: Any, low: int = 1, high: Optional[int] = None) -> List[str]:
    """[a message] unless `value` is a whole number from `low` to `high` (None: no limit)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return [f"{name}={value!r} is not a whole number"]
    if value < low or (high is not None and value > high):
        limits = f"from {low} to {high}" if high is not None else f">= {low}"
        return [f"{name}={value} is not {limits}"]
    return []


def rate_problems(name: str, value: Any) -> List[str]:
    """[a message] unless `value` is a rate from 0 up to 1 (NaN is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        return [f"{name}={value!r} is not a rate from 0 up to 1"]
    return []


def finite_number_problems(name: str, value: Any, low: float, high: float) -> List[str]:
    """[a message] unless `value` is a finite number from `low` to `high`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        return [f"{name}={value!r} is not a number from {low} to {high}"]
    return []


SETTINGS: Tuple[Setting, ...] = (
    Setting("word_width", 100, "whole", "word embedding width (words are lowercased; the characters keep the case)", shape=True),
    Setting("char_width", 32, "whole", "character embedding width", shape=True),
    Setting("char_features", 100, "whole", "filters of each character CNN", shape=True),
    Setting(
        "char_kernels", 1, "whole",
        "character CNNs, over windows of 3, 5, 7... characters; a word's character "
        "feature is `char_kernels * char_features` wide",
        high=10, shape=True,
    ),
    Setting(
        "char_edges", 0, "whole",
        "1: the CNNs see each word between two learned edge characters, so that a "
        "window tells a suffix or prefix from the same letters inside a word",
        low=0, high=1, shape=True,
    ),
    Setting("hidden_width", 128, "whole", "LSTM hidden size per direction", shape=True),
    Setting("depth", 1, "whole", "stacked BiLSTM layers", high=100, shape=True),
    Setting(
        "dropout", 0.3, "rate",
        "dropout on the LSTM input and output (the model's own; `[training] dropout` does not change it)",
    ),
    Setting("word_dropout", 0.25, "rate", "chance in training that a known word is replaced by the unknown word"),
    Setting(
        "feature_lemma_gradient", 1.0, "share",
        "share of the feature and lemma layers' gradient that reaches the BiLSTM and "
        "embeddings (1: all of it); below 1 the shared encoder leans towards the tags",
    ),
    Setting("min_word_count", 1, "whole", "occurrences a training word needs for an embedding of its own"),
    Setting("max_word_chars", 20, "whole", "characters of a word the CNN sees (its beginning and end)", high=1000),
    Setting(
        "max_sequence", 256, "whole",
        "longer Docs reach the LSTM in segments of this many tokens, bounding memory; "
        "every token is still tagged",
        high=TOKENS_PER_PASS,
    ),
    Setting(
        "group_size", 16, "whole",
        "sentences of similar length that run through the LSTM together (rows are "
        "sorted by length, so little work goes into padding)",
        high=TOKENS_PER_PASS,
    ),
    Setting(
        "engine", "torch", "choice",
        'what runs the BiLSTM when tagging: "torch", or "onnx": ONNX Runtime, the same '
        "tags, faster at one thread; with more torch threads, torch runs. It needs "
        '`pip install "spacy-lstm-tagger[onnx]"`; without it, or where onnxruntime cannot '
        "run the graph, the tagger runs on torch and warns once. Model files are the same for both",
        choices=ENGINES,
    ),
    Setting(
        "precision", "float32", "choice",
        'the number type tagging computes in: "bfloat16" tags about 1.5x as fast on a CPU with '
        "bfloat16 instructions (AVX512-BF16, AMX), with the same labels but for about one token "
        'in a thousand or fewer (other CPUs emulate bfloat16); "auto": bfloat16 on such a CPU with engine '
        '"torch", float32 elsewhere. Training always computes in float32',
        choices=PRECISIONS,
    ),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
SHAPE_SETTINGS = tuple(setting.name for setting in SETTINGS if setting.shape)


def _problems(self) -> List[str]:
    """Each setting that is of the wrong type or out of range, with its value,
    and settings that cannot go together."""
    found = [p for setting in SETTINGS for p in setting.problems(getattr(self, setting.name))]
    if self.precision == "bfloat16" and self.engine == "onnx":
        found.append('precision="bfloat16" needs engine="torch": ONNX Runtime computes in float32')
    return found


ModelSettings = make_dataclass(
    "ModelSettings",
    [(s.name, s.type, s.default) for s in SETTINGS],
    namespace={"problems": _problems, "__module__": __name__},
    frozen=True,
)
ModelSettings.__doc__ = "The model's settings in the config, as declared in SETTINGS."


def settings_docstring() -> str:
    """The `name (type): meaning.` lines of a docstring, one per setting."""
    return "\n".join(f"{s.name} ({s.type.__name__}): {s.doc}." for s in SETTINGS)


def settings_table() -> str:
    """The Markdown table of the settings in docs/settings.md (bin/settings_table.py
    prints it; tests/test_docs.py checks that the docs hold it)."""
    rows = ["| setting | default | range | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        if s.kind == "rate":
            limits = "0 up to 1"
        elif s.kind == "share":
            limits = "0 to 1"
        elif s.kind == "choice":
            limits = ", ".join(f'`"{c}"`' for c in s.choices)
        else:
            limits = f"{s.low} to {s.high}" if s.high is not None else f"{s.low} or more"
        default = f'`"{s.default}"`' if isinstance(s.default, str) else f"`{s.default}`"
        shape = " (shape)" if s.shape else ""
        rows.append(f"| `{s.name}` | {default} | {limits} | {s.doc}{shape} |")
    return "\n".join(rows) + "\n"
