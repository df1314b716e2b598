"""A training run's corpora: read once, written once (as the .spacy files that
`spacy train` and `evaluate --training` read), and used from memory."""
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..data.corpus import read_docs, write_docbin
from ..types import PathLike


@dataclass
class Corpora:
    """train: the training Docs. dev: the Docs that choose model-best and fit the
    confidence temperature. dev_source: where dev came from, for messages."""

    train: List[Doc]
    dev: List[Doc]
    dev_source: str

    @classmethod
    def read(cls, train_path: PathLike, dev_path: Optional[PathLike] = None) -> "Corpora":
        """Read the corpora (any format `read_docs` knows); without a dev
        corpus, dev is the training corpus itself, and `dev_source` says so.
        Raises ValueError for a corpus without a sentence."""
        vocab = Vocab()
        train = _not_empty(read_docs(train_path, vocab), "training", train_path)
        if dev_path is None:
            return cls(train, train, f"the training corpus {train_path} (no dev corpus was given)")
        return cls(train, _not_empty(read_docs(dev_path, vocab), "dev", dev_path), str(dev_path))

    def write(self, folder: PathLike) -> None:
        """FOLDER/train.spacy and FOLDER/dev.spacy."""
        write_docbin(self.train, Path(folder) / "train.spacy")
        write_docbin(self.dev, Path(folder) / "dev.spacy")


def _not_empty(docs: List[Doc], kind: str, path: PathLike) -> List[Doc]:
    if not any(len(doc) for doc in docs):
        raise ValueError(f"the {kind} corpus {path} is empty: it holds no sentences")
    return docs
