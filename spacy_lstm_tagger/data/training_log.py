"""The training log, OUTPUT/training-log.json: the per-epoch figures a training
run writes as it goes, and that the evaluation report reads back."""
import json
from pathlib import Path
from typing import Dict, List

LOG_NAME = "training-log.json"
PLOT_NAME = "training-curves.png"


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
