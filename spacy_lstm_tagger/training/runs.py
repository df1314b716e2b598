"""A whole training run from files: the corpora are read and written once
(OUTPUT/corpus), then the tagger is trained, distilled from teachers where asked
(distill.py, loop.py)."""
from pathlib import Path
from typing import Optional

from ..configs import config_path as shipped_config
from ..data.treebank import find_treebank
from ..types import PathLike
from .corpora import Corpora
from .distill import train_distilled
from .options import TrainingOptions
from .ud import META_KEY, prepare


def train_files(
    config_path: PathLike,
    output_dir: PathLike,
    train_path: PathLike,
    dev_path: Optional[PathLike] = None,
    options: Optional[TrainingOptions] = None,
) -> Path:
    """Train on the corpora at `train_path` and `dev_path` (.json, .conllu(.gz)
    or .spacy; without a dev corpus, the training corpus chooses model-best, as
    the log says). RETURNS (Path): model-best."""
    options = options or TrainingOptions()
    corpora = Corpora.read(train_path, dev_path)
    corpora.write(Path(output_dir) / "corpus")
    return train_distilled(config_path, output_dir, corpora, options)


def train_ud(
    folder: PathLike,
    output_dir: PathLike,
    options: Optional[TrainingOptions] = None,
    config: Optional[PathLike] = None,
) -> Path:
    """Train on the UD treebank in `folder` with the settings its data asks for
    (ud.prepare), with configs/ud.cfg unless `config` is given.
    RETURNS (Path): model-best."""
    options = options or TrainingOptions()
    output_dir = Path(output_dir)
    config_path, corpora, meta = prepare(
        find_treebank(folder), config or shipped_config("ud.cfg"), output_dir, options.epochs, options.log
    )
    options = options.with_changes(meta={**options.meta, META_KEY: meta})
    return train_distilled(config_path, output_dir, corpora, options)
