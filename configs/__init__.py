"""The shipped configs, installed with the package as `spacy_lstm_tagger.configs`
(setup.cfg maps this folder there): toy.cfg for the toy corpus, ud.cfg for any
UD treebank, ewt.cfg for UD English EWT."""
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent


def config_path(name: str) -> Path:
    """The shipped config `name` ("toy.cfg"). RAISES (FileNotFoundError) if the
    installation lacks it."""
    path = CONFIG_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"the shipped config {name} is not at {path} (is the installation complete?); "
            "pass a config with --config"
        )
    return path
