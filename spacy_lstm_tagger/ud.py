"""Train on any Universal Dependencies treebank: find its files, derive the
language and the settings that depend on the data, and choose a tokenizer that
works without extra packages.

Nothing here is tuned per language: the language comes from the file prefix
(`el_gdt-ud-train.conllu` -> `el`), the tag set from the data (XPOS where the
treebank has real XPOS, else UPOS), the batch size and learning-rate schedule
from its size.
"""
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import spacy
from spacy import util
from spacy.tokens import Doc
from spacy.vocab import Vocab

from .corpus import read_docs, write_docbin
from .distill import train_distilled
from .train import CONFIG_DIR

PathLike = Union[str, Path]
DATA_ENV_VAR = "UD_DATA_DIR"  # a folder of treebank folders (tests and benchmark)
# The rule-based tokenizer every spaCy language has.
RULE_BASED_TOKENIZER = {"@tokenizers": "spacy.Tokenizer.v1"}
MULTI_LANGUAGE = "xx"
META_KEY = "ud_treebank"  # in meta.json of the saved pipelines
# Updates per epoch that EWT gets from 500-word batches; smaller treebanks get
# smaller batches to come near it, which in 6 epochs on 400 Greek sentences gave
# dev UPOS 0.89 (100-word batches) against 0.78 (500).
UPDATES_PER_EPOCH = 400
MIN_BATCH_WORDS = 100
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


@dataclass
class LanguageChoice:
    """The spaCy language class and tokenizer a treebank's pipeline gets."""

    code: str  # what [nlp] lang is set to
    tokenizer: dict  # what [nlp.tokenizer] is set to
    notes: List[str] = field(default_factory=list)


def choose_language(lang: str) -> LanguageChoice:
    """spaCy's class for `lang` with its own tokenizer where that works with
    the installed packages; else its rule-based tokenizer (Vietnamese without
    pyvi, Japanese without sudachipy...), or the multi-language class where
    spaCy has no class for `lang`."""
    try:
        util.get_lang_class(lang)
    except ImportError:
        return LanguageChoice(
            MULTI_LANGUAGE,
            RULE_BASED_TOKENIZER,
            [
                f"spaCy has no language class for {lang!r}: the pipeline uses the "
                f"multi-language class {MULTI_LANGUAGE!r} and its rule-based tokenizer"
            ],
        )
    try:
        nlp = spacy.blank(lang)
    except ImportError as err:
        problem = str(err).strip().splitlines()[0]
        return LanguageChoice(
            lang,
            RULE_BASED_TOKENIZER,
            [
                f"spaCy's {lang!r} tokenizer needs a package that is not installed "
                f"({problem}); the pipeline uses spaCy's rule-based tokenizer instead"
            ],
        )
    return LanguageChoice(lang, dict(nlp.config["nlp"]["tokenizer"]))


def has_real_xpos(docs: List[Doc]) -> bool:
    """Whether the XPOS column says more than UPOS: set somewhere and not
    everywhere a copy of UPOS."""
    return any(t.tag_ and t.tag_ != t.pos_ for doc in docs for t in doc)


def upos_as_tags(docs: List[Doc]) -> None:
    """Make UPOS the tag to learn, for treebanks without real XPOS."""
    for doc in docs:
        for token in doc:
            token.tag_ = token.pos_


def prepare(
    treebank: Treebank,
    base_config: PathLike,
    output_dir: Path,
    epochs: Optional[int] = None,
    log: Callable[[str], None] = print,
) -> Tuple[Path, Path, Path, Dict[str, object]]:
    """Read the treebank; write the corpora as the tagger learns them and the
    config with the settings that depend on the data (OUTPUT/config.cfg, which
    `spacy train` can also use).

    RETURNS (Tuple[Path, Path, Path, dict]): the config, the train and dev
        .spacy files, and what goes into the pipeline's meta.
    """
    vocab = Vocab()
    train_docs = read_docs(treebank.require("train"), vocab)
    dev_file = treebank.split("dev")
    dev_docs = read_docs(dev_file, vocab) if dev_file else train_docs
    config = util.load_config(base_config, interpolate=False)
    language = choose_language(treebank.lang)
    config["nlp"]["lang"] = language.code
    config["nlp"]["tokenizer"] = language.tokenizer
    notes = list(language.notes)
    if has_real_xpos(train_docs):
        notes.append("tags: XPOS into token.tag_, UPOS into token.pos_")
        unseen = _unseen_tags(train_docs, dev_docs)
        if unseen:
            notes.append(unseen)
        config["components"]["lstm_tagger"]["predict_pos"] = True
        # model-best is the best at both.
        config["training"]["score_weights"] = {"tag_acc": 0.5, "pos_acc": 0.5}
    else:
        notes.append(
            "tags: the treebank has no XPOS beyond UPOS, so the tagger predicts "
            "UPOS into token.pos_ (and token.tag_)"
        )
        # One output layer, for UPOS; an attribute_ruler copies it from
        # token.tag_ into token.pos_, where UPOS belongs.
        upos_as_tags(train_docs)
        upos_as_tags(dev_docs)
        labels = sorted({t.pos_ for doc in train_docs for t in doc} - {""})
        config["components"]["lstm_tagger"]["predict_pos"] = False
        config["nlp"]["pipeline"] = ["lstm_tagger", "attribute_ruler"]
        config["components"]["attribute_ruler"] = {"factory": "attribute_ruler"}
        config["initialize"]["components"]["attribute_ruler"] = {
            "tag_map": {label: {"POS": label} for label in labels}
        }
    _derive_batches(config["training"], train_docs, epochs)
    for note in notes:
        log(f"{treebank.prefix}: {note}")
    config_path = output_dir / "config.cfg"
    train_path = output_dir / "corpus" / "train.spacy"
    dev_path = output_dir / "corpus" / "dev.spacy"
    write_docbin(train_docs, train_path)
    write_docbin(dev_docs, dev_path)
    config.to_disk(config_path)
    meta = {"treebank": treebank.prefix, "lang": treebank.lang, "notes": notes}
    return config_path, train_path, dev_path, meta


def _unseen_tags(train_docs: List[Doc], dev_docs: List[Doc]) -> Optional[str]:
    """A warning when many dev XPOS tags never occur in train (Vietnamese VTB's
    dev split spells its tags differently): dev tag accuracy then means little."""
    seen = {t.tag_ for doc in train_docs for t in doc}
    dev_tags = [t.tag_ for doc in dev_docs for t in doc if t.tag_]
    unseen = [tag for tag in dev_tags if tag not in seen]
    if len(unseen) <= 0.05 * len(dev_tags):
        return None
    examples = ", ".join(sorted(set(unseen))[:5])
    return (
        f"{len(unseen) / len(dev_tags):.0%} of the dev XPOS tags never occur in train "
        f"(e.g. {examples}): the dev tag accuracy says little"
    )


def _derive_batches(training: dict, train_docs: List[Doc], epochs: Optional[int]) -> None:
    """Batches and learning-rate schedule for the treebank's size. A small
    treebank gets smaller batches (down to MIN_BATCH_WORDS), so that an epoch
    has about as many updates as EWT's with the config's batch size; the
    learning rate decays to zero at the last epoch; the warm-up lasts at most
    one epoch."""
    batcher, rate = training["batcher"], training["optimizer"].get("learn_rate")
    if not isinstance(batcher.get("size"), int):
        return
    n_words = sum(len(doc) for doc in train_docs)
    batcher["size"] = max(MIN_BATCH_WORDS, min(batcher["size"], math.ceil(n_words / UPDATES_PER_EPOCH)))
    steps_per_epoch = math.ceil(n_words / batcher["size"])
    if isinstance(rate, dict) and "total_steps" in rate:
        rate["total_steps"] = (epochs or training["max_epochs"]) * steps_per_epoch
        if "warmup_steps" in rate:
            rate["warmup_steps"] = min(rate["warmup_steps"], steps_per_epoch)


def train_ud(
    folder: PathLike,
    output_dir: PathLike,
    *,
    config: Optional[PathLike] = None,
    epochs: Optional[int] = None,
    seed: Optional[int] = None,
    resume: bool = False,
    max_minutes: Optional[float] = None,
    teachers: Optional[int] = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Train a tagger on the UD treebank in `folder` (see `prepare`), with
    configs/ud.cfg unless `config` is given, distilled from `teachers` taggers
    (default: the config's [distillation] teachers). RETURNS (Path): model-best."""
    output_dir = Path(output_dir)
    treebank = find_treebank(folder)
    config_path, train_path, dev_path, meta = prepare(
        treebank, config or CONFIG_DIR / "ud.cfg", output_dir, epochs, log
    )
    return train_distilled(
        config_path,
        output_dir,
        train_path,
        dev_path,
        teachers=teachers,
        epochs=epochs,
        seed=seed,
        resume=resume,
        max_minutes=max_minutes,
        meta={META_KEY: meta},
        log=log,
    )
