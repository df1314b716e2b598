"""Resident memory after each epoch of `train` (configs/ewt.cfg) on the first
sentences of UD English EWT, measured in a process of its own:

    python tests/train_memory.py EWT_DIR WORK_DIR [SENTENCES [EPOCHS]]

prints each epoch's line and its resident memory, then one JSON line.
"""
import json
import os
import sys
from pathlib import Path

import torch
from spacy.vocab import Vocab

from spacy_lstm_tagger.data.treebank import ewt_file
from spacy_lstm_tagger.data.corpus import read_docs, write_docbin
from spacy_lstm_tagger.configs import CONFIG_DIR
from spacy_lstm_tagger.training.options import TrainingOptions
from spacy_lstm_tagger.training.runs import train_files


def resident_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(ewt: str, work: str, sentences: int = 1000, epochs: int = 6) -> None:
    torch.set_num_threads(1)
    work_dir = Path(work)
    vocab = Vocab()
    train_path, dev_path = work_dir / "train.spacy", work_dir / "dev.spacy"
    write_docbin(read_docs(ewt_file("train", Path(ewt)), vocab)[:sentences], train_path)
    write_docbin(read_docs(ewt_file("dev", Path(ewt)), vocab)[:300], dev_path)
    per_epoch = []

    def log(line: str) -> None:
        if line.split()[0].isdigit():  # an epoch's line
            per_epoch.append(round(resident_mb(), 1))
            line += f"   {per_epoch[-1]:.0f} MB resident"
        print(line, flush=True)

    train_files(CONFIG_DIR / "ewt.cfg", work_dir / "out", train_path, dev_path, options=TrainingOptions(epochs=epochs, log=log))
    print(json.dumps({"resident_mb": per_epoch}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:]))
