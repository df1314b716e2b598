"""The training log, OUTPUT/training-log.json: the per-epoch figures a training
run writes as it goes, and that the evaluation report reads back."""
import json
from pathlib import Path
from typing import Dict, List, Optional

LOG_NAME = "training-log.json"
PLOT_NAME = "training-curves.png"


# A row's numbers: those every row has, and those a row may leave out (None: an
# epoch without a dev score, say).
REQUIRED_NUMBERS = ("loss",)
OPTIONAL_NUMBERS = ("tag_acc", "pos_acc", "seconds")


def read_log(path: Path) -> List[Dict]:
    """The rows of a training-log.json, each field the report reads checked:
    numbers are numbers (ValueError naming the file, the row and the field)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read the training log ({err})") from None
    epochs = data.get("epochs") if isinstance(data, dict) else None
    if not isinstance(epochs, list) or not all(
        isinstance(row, dict) and _is_number(row.get("epoch"), int) for row in epochs
    ):
        raise ValueError(f"{path}: not a training log (expected {{'epochs': [{{'epoch': 1, ...}}]}})")
    for i, row in enumerate(epochs):
        problem = _row_problem(row)
        if problem:
            raise ValueError(f"{path}: epoch row {i} (epoch {row['epoch']}): {problem}")
    return epochs


def _row_problem(row: Dict) -> Optional[str]:
    """What is wrong with one row of the log, or None."""
    fields = [(key, row.get(key), False) for key in REQUIRED_NUMBERS]
    fields += [(key, row.get(key), True) for key in OPTIONAL_NUMBERS]
    calibration = row.get("calibration")
    if calibration is not None:
        if not isinstance(calibration, dict) or not all(isinstance(c, dict) for c in calibration.values()):
            return f"'calibration' is {json.dumps(calibration)[:80]}, not an object of objects"
        fields += [
            (f"calibration.{name}.{key}", value, False)
            for name, fitted in calibration.items()
            for key, value in fitted.items()
        ]
    for name, value, optional in fields:
        if not (_is_number(value) or (optional and value is None)):
            return f"{name!r} is {json.dumps(value)[:80]}, not a number"
    return None


def _is_number(value, kind=(int, float)) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def write_json(path: Path, data) -> None:
    """The standard library's JSON: its floats read back exactly (srsly's do not)."""
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
