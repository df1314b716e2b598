import pytest

from spacy_lstm_tagger.conllu import ewt_dir


@pytest.fixture(scope="session")
def ewt():
    """The UD English EWT folder, or a skip that says what is missing."""
    try:
        return ewt_dir()
    except FileNotFoundError as err:
        pytest.skip(str(err))
