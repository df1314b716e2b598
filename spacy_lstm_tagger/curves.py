"""Training curves: loss and dev scores per epoch, written next to model-last
after every epoch (so an interrupted run keeps them) and plotted at the end.
"""
from pathlib import Path
from typing import Dict, List, Optional

import json

from . import figures

LOG_NAME = "training-log.json"
PLOT_NAME = "training-curves.png"


class TrainingCurves:
    """The per-epoch rows of one training run, in OUTPUT/training-log.json."""

    def __init__(self, output_dir: Path, resumed_epoch: int = 0):
        """resumed_epoch: the epoch --resume continues after; the rows up to it
        are kept, any later ones (from after model-last was saved) dropped."""
        self.path = Path(output_dir) / LOG_NAME
        self.epochs: List[Dict] = []
        if resumed_epoch and self.path.exists():
            self.epochs = [row for row in read_log(self.path) if row["epoch"] <= resumed_epoch]

    def add(self, **row) -> None:
        self.epochs.append(row)
        write_json(self.path, {"epochs": self.epochs})

    def plot(self, log=print) -> Optional[Path]:
        """Write OUTPUT/training-curves.png. RETURNS: its path, or None without
        matplotlib."""
        if not figures.available():
            log(f"no {PLOT_NAME}: {figures.MISSING}")
            return None
        path = self.path.with_name(PLOT_NAME)
        path.write_bytes(figures.training_curves(self.epochs))
        return path


def read_log(path: Path) -> List[Dict]:
    """The rows of a training-log.json, checked enough to plot them."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read the training log ({err})") from None
    epochs = data.get("epochs") if isinstance(data, dict) else None
    if not isinstance(epochs, list) or not all(
        isinstance(row, dict) and isinstance(row.get("epoch"), int) for row in epochs
    ):
        raise ValueError(f"{path}: not a training log (expected {{'epochs': [{{'epoch': 1, ...}}]}})")
    return epochs


def write_json(path: Path, data) -> None:
    """The standard library's JSON: its floats read back exactly (srsly's do not)."""
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
