"""Training curves: loss and dev scores per epoch, written next to model-last
after every epoch (so an interrupted run keeps them) and plotted at the end.
"""
from pathlib import Path
from typing import Dict, List, Optional

from ..data.training_log import LOG_NAME, PLOT_NAME, read_log, write_json


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, {"epochs": self.epochs})

    def plot(self, log=print) -> Optional[Path]:
        """Write OUTPUT/training-curves.png. RETURNS: its path, or None without
        matplotlib."""
        from ..evaluation import figures  # matplotlib only where a figure is drawn

        if not figures.available():
            log(f"no {PLOT_NAME}: {figures.MISSING}")
            return None
        path = self.path.with_name(PLOT_NAME)
        path.write_bytes(figures.training_curves(self.epochs))
        return path
