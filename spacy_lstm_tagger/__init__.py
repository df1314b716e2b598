"""A PyTorch BiLSTM part-of-speech tagger as a spaCy v3 pipeline component."""
from .model import ModelFileError, TaggerModel, build_lstm_tagger
from .pipeline_component import LSTMTagger, make_lstm_tagger

__version__ = "0.1.0"
__all__ = ["LSTMTagger", "ModelFileError", "TaggerModel", "build_lstm_tagger", "make_lstm_tagger"]
