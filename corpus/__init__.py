"""The toy corpus of PyTorch's "Sequence Models and LSTM Networks" tutorial
(two tagged sentences, DET/NN/V), installed with the package as
`spacy_lstm_tagger.corpus` (setup.cfg maps this folder there). It is what
`python -m spacy_lstm_tagger train` trains on by default, and
`python -m spacy_lstm_tagger convert corpus/toy.json corpus/toy.spacy` turns it
into the DocBin that `spacy train` reads."""
from pathlib import Path

TOY_CORPUS = Path(__file__).resolve().parent / "toy.json"


def toy_corpus() -> Path:
    """The toy corpus's path. RAISES (FileNotFoundError) if the installation lacks it."""
    if not TOY_CORPUS.is_file():
        raise FileNotFoundError(
            f"the toy corpus is not at {TOY_CORPUS} (is the installation complete?); "
            "pass a corpus with --train"
        )
    return TOY_CORPUS
