"""The `lstm_tagger` component and its model: all that `spacy.load` needs.

Docs -> index arrays (featurize) -> torch network (network, model; for
tagging, onnx_engine and the bfloat16 copy of precision) -> BiLSTM output -> scores, whose columns the OutputLayout names
(layout), computed per head and, for lemmas, per token only as needed
(token_scores) -> annotations and confidences (annotations, confidence,
calibration; morphology, lemma_rules). In training: gold labels (gold) -> loss
(loss). The model's settings are declared
in settings, the component's saved entries in saved_cfg. Nothing here imports
training, tagging, evaluation or plotting code.
"""
from .component import LSTMTagger, find_lstm_tagger, make_lstm_tagger
from .model import ModelFileError, TaggerModel, build_lstm_tagger

__all__ = ["LSTMTagger", "ModelFileError", "TaggerModel", "build_lstm_tagger", "find_lstm_tagger", "make_lstm_tagger"]
