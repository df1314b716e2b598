"""A PyTorch BiLSTM part-of-speech tagger as a spaCy v3 pipeline component.

pipeline/ holds the component and its model (all that `spacy.load` needs);
data/ reads and writes corpora and treebanks; training/, tagging/ and
evaluation/ build on those; cli.py is the command line.
"""
from .pipeline import LSTMTagger, ModelFileError, TaggerModel, build_lstm_tagger, make_lstm_tagger

__version__ = "0.1.0"
__all__ = ["LSTMTagger", "ModelFileError", "TaggerModel", "build_lstm_tagger", "make_lstm_tagger"]
