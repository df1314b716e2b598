"""Loading a pipeline by folder or installed package name, with an error that
names it instead of spaCy's traceback."""
import spacy
from spacy.language import Language


def load_pipeline(name: str) -> Language:
    """spacy.load(name). RAISES (FileNotFoundError): naming the pipeline, where
    spaCy cannot find it."""
    try:
        return spacy.load(name)
    except OSError as err:  # spaCy's "can't find model"
        raise FileNotFoundError(f"cannot load the pipeline {str(name)!r}: {err}") from None
