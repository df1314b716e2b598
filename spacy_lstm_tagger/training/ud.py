"""Train on any Universal Dependencies treebank: find its files, derive the
language and the settings that depend on the data, and choose a tokenizer that
works without extra packages.

Nothing here is tuned per language: the language comes from the file prefix
(`el_gdt-ud-train.conllu` -> `el`), the tag set from the data (XPOS where the
treebank has real XPOS, else UPOS), the batch size and learning-rate schedule
from its size.
"""
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection, Dict, List, Optional, Tuple

import spacy
from spacy import util
from spacy.tokens import Doc

from ..data.treebank import Treebank
from ..pipeline.morphology import has_features
from ..types import PathLike
from .config_file import read_config
from .corpora import Corpora

# The rule-based tokenizer every spaCy language has.
RULE_BASED_TOKENIZER = {"@tokenizers": "spacy.Tokenizer.v1"}
MULTI_LANGUAGE = "xx"
META_KEY = "ud_treebank"  # in meta.json of the saved pipelines
# Updates per epoch that EWT gets from 500-word batches; smaller treebanks get
# smaller batches to come near it, which in 6 epochs on 400 Greek sentences gave
# dev UPOS 0.89 (100-word batches) against 0.78 (500).
UPDATES_PER_EPOCH = 400
MIN_BATCH_WORDS = 100
# Above this share of dev XPOS tags that train never has, dev tag accuracy
# does not choose model-best.
UNSEEN_DEV_TAGS = 0.05


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
) -> Tuple[Path, Corpora, Dict[str, object]]:
    """Read the treebank (without a dev split, a seeded share of train is held
    out as dev, `Corpora.holding_out`); write the config with the settings that depend on the
    data (OUTPUT/config.cfg, which `spacy train` can also use) and the corpora
    as the tagger learns them (OUTPUT/corpus/{train,dev}.spacy).

    RETURNS (Tuple[Path, Corpora, dict]): the config, the corpora and what goes
        into the pipeline's meta.
    """
    dev_file = treebank.split("dev")
    if dev_file is None:
        # Never choose model-best or fit the temperature on training sentences.
        corpora = Corpora.holding_out(treebank.require("train"))
    else:
        corpora = Corpora.read(treebank.require("train"), dev_file)
    train_docs, dev_docs = corpora.train, corpora.dev
    config = read_config(base_config)
    language = choose_language(treebank.lang)
    config["nlp"]["lang"] = language.code
    config["nlp"]["tokenizer"] = language.tokenizer
    notes = list(language.notes)
    if dev_file is None:
        notes.append(f"no dev split: dev is {corpora.dev_source}")
    dev_tags_scored = True
    if has_real_xpos(train_docs):
        notes.append("tags: XPOS into token.tag_, UPOS into token.pos_")
        unseen = _unseen_tags(train_docs, dev_docs)
        if unseen:
            notes.append(unseen)
            dev_tags_scored = False
        config["components"]["lstm_tagger"]["predict_pos"] = True
    else:
        notes.append(
            "tags: the treebank has no XPOS beyond UPOS, so the tagger predicts "
            "UPOS into token.pos_ (and token.tag_)"
        )
        # One output layer, for UPOS, whose label the tagger writes into
        # token.pos_ (where UPOS belongs) as well as token.tag_.
        upos_as_tags(train_docs)
        if dev_docs is not train_docs:
            upos_as_tags(dev_docs)
        config["components"]["lstm_tagger"]["predict_pos"] = False
        config["components"]["lstm_tagger"]["pos_from_tag"] = True
    notes.extend(_choose_heads(config, train_docs))
    _choose_selection(config, dev_tags_scored)
    _derive_batches(config["training"], train_docs, epochs)
    for note in notes:
        log(f"{treebank.prefix}: {note}")
    config_path = output_dir / "config.cfg"
    corpora.write(output_dir / "corpus")
    config.to_disk(config_path)
    meta = {"treebank": treebank.prefix, "lang": treebank.lang, "notes": notes}
    return config_path, corpora, meta


def _choose_heads(config, train_docs: List[Doc]) -> List[str]:
    """Drop "morph" and "lemma" from the config's annotate where the treebank's
    FEATS or LEMMA column is all `_` (and "pos" where UPOS is the tag, which the
    tagger writes from its tag).
    RETURNS (List[str]): notes on the heads left out."""
    component = config["components"]["lstm_tagger"]
    if "annotate" not in component:  # the component's default: tags (and UPOS)
        return []
    annotate = list(component["annotate"])
    notes = []
    missing = {
        "morph": not has_features(str(t.morph) for doc in train_docs for t in doc),
        "lemma": not any(t.lemma_ for doc in train_docs for t in doc),
    }
    for name, column in (("morph", "FEATS"), ("lemma", "LEMMA")):
        if name in annotate and missing[name]:
            annotate.remove(name)
            notes.append(f"the {column} column is all '_': the tagger learns no {name} head")
    if not component.get("predict_pos") and "pos" in annotate:
        annotate.remove("pos")
    component["annotate"] = annotate
    return notes


def _choose_selection(config, dev_tags_scored: bool) -> None:
    """model-best is the best at every attribute written, in equal shares;
    not at the tag where the dev split's tags are mostly not train's
    (`_unseen_tags`), whose tag_acc column stays, weighted 0."""
    component = config["components"]["lstm_tagger"]
    written = ["tag"] + [name for name in component.get("annotate", []) if name != "tag"]
    if component.get("predict_pos") and "pos" not in written:
        written.append("pos")
    if len(written) == 1:
        return
    counted = [name for name in written if name != "tag" or dev_tags_scored]
    config["training"]["score_weights"] = {
        f"{name}_acc": round(1 / len(counted), 4) if name in counted else 0.0 for name in written
    }


def _unseen_tags(train_docs: List[Doc], dev_docs: List[Doc]) -> Optional[str]:
    """A warning when many dev XPOS tags never occur in train (Vietnamese VTB's
    dev split spells its tags differently): dev tag accuracy then means little."""
    seen = {t.tag_ for doc in train_docs for t in doc}
    dev_tags = Counter(t.tag_ for doc in dev_docs for t in doc if t.tag_)
    share = unseen_tag_share(seen, dev_tags)
    if share <= UNSEEN_DEV_TAGS:
        return None
    examples = ", ".join(sorted(tag for tag in dev_tags if tag not in seen)[:5])
    return (
        f"{share:.0%} of the dev XPOS tags never occur in train "
        f"(e.g. {examples}): the dev tag accuracy says little, and model-best is "
        "chosen without it"
    )


def unseen_tag_share(train_tags: Collection[str], dev_tags: Counter) -> float:
    """The share of the dev words, counted by tag in `dev_tags`, whose tag is
    not among `train_tags`."""
    total = sum(dev_tags.values())
    unseen = sum(n for tag, n in dev_tags.items() if tag not in train_tags)
    return unseen / total if total else 0.0


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
