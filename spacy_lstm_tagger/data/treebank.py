"""Where the treebanks are: a UD treebank's files in one folder, as UD
distributes them (`LANG_NAME-ud-{train,dev,test}.conllu[.gz]`), found from an
argument or an environment variable.
"""
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..types import PathLike

DATA_ENV_VAR = "UD_DATA_DIR"  # a folder of treebank folders (tests and benchmark)
EWT_ENV_VAR = "UD_EWT_DIR"
EWT_SPLITS = ("train", "dev", "test")
EWT_SOURCE = (
    "UD treebanks come from https://universaldependencies.org "
    "(this one: https://github.com/UniversalDependencies/UD_English-EWT)"
)
_TRAIN_FILE = re.compile(r"(?P<prefix>(?P<lang>[a-z]{2,3})_[A-Za-z0-9]+)-ud-train\.conllu(\.gz)?")


@dataclass
class Treebank:
    """A UD treebank's files in one folder, as UD distributes them."""

    folder: Path
    prefix: str  # e.g. "el_gdt"
    lang: str  # the ISO code of the prefix, e.g. "el"

    def split(self, name: str) -> Optional[Path]:
        """The file of split `name` ("train", "dev", "test"), or None."""
        for suffix in (".conllu.gz", ".conllu"):
            path = self.folder / f"{self.prefix}-ud-{name}{suffix}"
            if path.is_file():
                return path
        return None

    def require(self, name: str) -> Path:
        path = self.split(name)
        if path is None:
            raise FileNotFoundError(
                f"{self.folder} has no {self.prefix}-ud-{name}.conllu(.gz)"
            )
        return path


def find_treebank(folder: PathLike) -> Treebank:
    """The treebank in `folder`: the one `*-ud-train.conllu(.gz)` file there.

    RAISES (FileNotFoundError): if the folder holds no training file, or
        several of different treebanks.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"treebank folder not found: {folder}")
    matches = [_TRAIN_FILE.fullmatch(p.name) for p in folder.iterdir() if p.is_file()]
    # A treebank may have both a .conllu and a .conllu.gz training file.
    found = sorted({(m["prefix"], m["lang"]) for m in matches if m})
    if not found:
        raise FileNotFoundError(
            f"{folder} holds no UD training file (LANG_NAME-ud-train.conllu or "
            ".conllu.gz, e.g. el_gdt-ud-train.conllu.gz); treebanks are at "
            "https://universaldependencies.org"
        )
    if len(found) > 1:
        raise FileNotFoundError(
            f"{folder} holds several treebanks ({', '.join(p for p, _ in found)}): "
            "point at a folder with one"
        )
    prefix, lang = found[0]
    return Treebank(folder, prefix, lang)


def treebank_in_data_dir(name: str) -> Treebank:
    """Treebank folder `name` (e.g. "ud-greek-gdt") under $UD_DATA_DIR."""
    data_dir = os.environ.get(DATA_ENV_VAR)
    if not data_dir:
        raise FileNotFoundError(
            f"{DATA_ENV_VAR} is not set: set it to the folder that holds the UD "
            f"treebank folders (e.g. {name}/)"
        )
    return find_treebank(Path(data_dir) / name)


def ewt_dir(data_dir: Optional[PathLike] = None) -> Path:
    """Find the folder holding UD English EWT.

    data_dir (str / Path / None): The folder. Defaults to the environment
        variable UD_EWT_DIR.
    RETURNS (Path): The folder; it holds en_ewt-ud-train.conllu(.gz).
    RAISES (FileNotFoundError): If neither is set or the file is missing.
    """
    if data_dir is not None:
        source = "data_dir argument"
    else:
        # An empty variable counts as unset: Path("") would mean the cwd.
        data_dir = os.environ.get(EWT_ENV_VAR) or None
        source = f"environment variable {EWT_ENV_VAR}"
        if data_dir is None:
            raise FileNotFoundError(
                f"UD English EWT not found: no data_dir given and {EWT_ENV_VAR} "
                "is not set. Set it to the folder with "
                "en_ewt-ud-{train,dev,test}.conllu.gz (or .conllu). " + EWT_SOURCE
            )
    path = Path(data_dir).expanduser()
    if _find_split(path, "train") is None:
        raise FileNotFoundError(
            f"UD English EWT not found: {path} (from the {source}) has no "
            "en_ewt-ud-train.conllu.gz or en_ewt-ud-train.conllu. " + EWT_SOURCE
        )
    return path


def ewt_file(split: str, data_dir: Optional[PathLike] = None) -> Path:
    """Path of one UD English EWT split.

    split (str): "train", "dev" or "test".
    data_dir (str / Path / None): As for `ewt_dir`.
    RETURNS (Path): en_ewt-ud-{split}.conllu.gz, or the plain .conllu.
    RAISES (FileNotFoundError): If the folder or the split's file is missing.
    """
    if split not in EWT_SPLITS:
        raise ValueError(f"split must be one of {EWT_SPLITS}, not {split!r}")
    path = ewt_dir(data_dir)
    found = _find_split(path, split)
    if found is None:
        raise FileNotFoundError(
            f"{path} has no en_ewt-ud-{split}.conllu.gz or "
            f"en_ewt-ud-{split}.conllu. " + EWT_SOURCE
        )
    return found


def _find_split(path: Path, split: str) -> Optional[Path]:
    for suffix in (".conllu.gz", ".conllu"):
        candidate = path / f"en_ewt-ud-{split}{suffix}"
        if candidate.is_file():
            return candidate
    return None

