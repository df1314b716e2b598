"""A training run's corpora: read once, written once (as the .spacy files that
`spacy train` and `evaluate --training` read), and used from memory."""
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..data.corpus import read_docs, write_docbin
from ..types import PathLike

DEV_KEY = "lstm_tagger_dev"  # in meta.json: how dev was held out of train
# Without a dev split, this share of the training sentences (at least one) is
# held out as dev. A fixed seed: runs with other training seeds choose and
# calibrate on the same sentences, so their dev scores compare.
HELD_OUT_SHARE = 0.1
HELD_OUT_SEED = 0


@dataclass
class Corpora:
    """train: the training Docs. dev: the Docs that choose model-best and fit the
    confidence temperature. dev_source: where dev came from, for messages.
    held_out: where dev was held out of the training corpus ({"held_out_from",
    "sentences", "seed", "share"}, for the pipeline's meta), or None."""

    train: List[Doc]
    dev: List[Doc]
    dev_source: str
    held_out: Optional[Dict[str, Any]] = None

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

    @classmethod
    def holding_out(
        cls, train_path: PathLike, share: float = HELD_OUT_SHARE, seed: int = HELD_OUT_SEED
    ) -> "Corpora":
        """Read the training corpus and hold out a seeded `share` of its
        sentences (at least one) as dev. A corpus of one sentence cannot spare
        one: dev is then the training corpus, and `dev_source` says so."""
        docs = _not_empty(read_docs(train_path, Vocab()), "training", train_path)
        if len(docs) < 2:
            return cls(docs, docs, f"the training corpus {train_path} (too small to hold a sentence out as dev)")
        n = max(1, round(share * len(docs)))
        chosen = set(random.Random(seed).sample(range(len(docs)), n))
        dev = [doc for i, doc in enumerate(docs) if i in chosen]
        train = [doc for i, doc in enumerate(docs) if i not in chosen]
        held_out = {"held_out_from": str(train_path), "sentences": n, "seed": seed, "share": share}
        source = f"{n} of the {len(docs)} sentences of {train_path}, held out of training (seed {seed})"
        return cls(train, dev, source, held_out)

    @property
    def dev_is_train(self) -> bool:
        return self.dev is self.train

    def write(self, folder: PathLike) -> None:
        """FOLDER/train.spacy and FOLDER/dev.spacy."""
        write_docbin(self.train, Path(folder) / "train.spacy")
        write_docbin(self.dev, Path(folder) / "dev.spacy")


def _not_empty(docs: List[Doc], kind: str, path: PathLike) -> List[Doc]:
    if not any(len(doc) for doc in docs):
        raise ValueError(f"the {kind} corpus {path} is empty: it holds no sentences")
    return docs
