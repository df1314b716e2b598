"""Reading a training config: a clear error for a missing or unreadable file,
and for a key spaCy or the tagger does not know, with the key it most likely
meant ("did you mean ...") or the section it belongs in.

Checked: the top-level sections, [nlp], [training], [initialize],
[distillation] and every lstm_tagger component with its [*.model]. Sections
of free names ([paths], [corpora], [training.score_weights]...) and registered
functions (an optimizer, a batcher) are left to spaCy.
"""
import difflib
from pathlib import Path
from typing import Dict, List, Optional, Set

from spacy import util
from spacy.schemas import ConfigSchema, ConfigSchemaInit, ConfigSchemaNlp, ConfigSchemaTraining
from thinc.api import Config

from ..pipeline.settings import SETTINGS
from ..types import PathLike

FACTORY = "lstm_tagger"


def _fields(schema) -> Set[str]:
    return set(getattr(schema, "model_fields", None) or schema.__fields__)


def _component_keys() -> Set[str]:
    from spacy.language import Language

    from ..pipeline import component  # noqa: F401 (registers the factory)

    return {"factory"} | set(Language.get_factory_meta(FACTORY).default_config)


MODEL_KEYS = {"@architectures"} | {setting.name for setting in SETTINGS}
DISTILLATION_KEYS = {"teachers"}


def read_config(path: PathLike, overrides: Optional[Dict] = None) -> Config:
    """The config at `path`, not interpolated, with `overrides` (dotted names).

    RAISES (FileNotFoundError): if there is no such file.
    RAISES (ValueError): if it cannot be parsed, or holds a key that spaCy or
        the tagger does not know where it stands (the message names it and
        suggests what was meant).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        config = util.load_config(path, overrides=overrides or {}, interpolate=False)
    except (OSError, ValueError) as err:  # ConfigValidationError is a ValueError
        raise ValueError(f"{path}: cannot read the config ({str(err).strip()})") from None
    problems = key_problems(config)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return config


def known_sections(config: Dict) -> Dict[str, Set[str]]:
    """Each checked section of `config` ("training", "components.tagger.model")
    with the keys it may hold."""
    sections = {
        "": _fields(ConfigSchema) | {"paths", "system", "distillation"},
        "nlp": _fields(ConfigSchemaNlp),
        "training": _fields(ConfigSchemaTraining),
        "initialize": _fields(ConfigSchemaInit),
        "distillation": DISTILLATION_KEYS,
    }
    components = config.get("components")
    for name, component in (components.items() if isinstance(components, dict) else ()):
        if isinstance(component, dict) and component.get("factory") == FACTORY:
            sections[f"components.{name}"] = _component_keys()
            sections[f"components.{name}.model"] = MODEL_KEYS
    return sections


def key_problems(config: Dict) -> List[str]:
    """A message for each key of a checked section that does not belong there."""
    sections = known_sections(config)
    problems = []
    for section, keys in sections.items():
        values = _section(config, section)
        if not isinstance(values, dict):
            continue
        for key in values:
            if key not in keys:
                problems.append(f"{_where(section, key)} is not a setting there{_hint(key, section, sections)}")
    return problems


def _section(config: Dict, dotted: str):
    value = config
    for part in dotted.split(".") if dotted else ():
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _where(section: str, key: str) -> str:
    return f"section [{key}]" if not section else f"[{section}] {key}"


def _hint(key: str, section: str, sections: Dict[str, Set[str]]) -> str:
    """Where `key` belongs, if another section knows it; else the closest key
    of its own section, or of any."""
    elsewhere = sorted(name for name, keys in sections.items() if key in keys and name != section)
    if elsewhere:
        return f": it belongs in [{elsewhere[0]}]" if elsewhere[0] else ": it is a section of its own"
    close = difflib.get_close_matches(key, sorted(sections[section]), n=1, cutoff=0.6)
    if close:
        return f": did you mean {f'section [{close[0]}]' if not section else repr(close[0])}?"
    anywhere = {k: name for name, keys in sections.items() for k in keys}
    close = difflib.get_close_matches(key, sorted(anywhere), n=1, cutoff=0.75)
    if close:
        return f": did you mean {close[0]!r} in [{anywhere[close[0]]}]?" if anywhere[close[0]] else (
            f": did you mean section [{close[0]}]?"
        )
    return ""
