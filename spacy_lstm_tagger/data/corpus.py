"""Tagged corpora -> spaCy Docs and Examples, whatever their format."""
import json
import zlib
from pathlib import Path
from typing import Iterable, List, Optional

import srsly
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.vocab import Vocab

from ..pipeline.layout import label_problem
from ..types import PathLike
from .conllu import read_conllu


def read_tagged_json(path: PathLike, vocab: Vocab) -> List[Doc]:
    """Read a JSON list of {"words": [...], "tags": [...]} sentences
    (corpus/toy.json), plain or gzipped (.json.gz)."""
    data = _load_json(Path(path))
    if not isinstance(data, list):
        raise ValueError(
            f"{path}: expected a JSON list of sentences, found {_json_type(data)}"
        )
    docs = []
    for i, sentence in enumerate(data):
        problem = _sentence_problem(sentence)
        if problem:
            raise ValueError(
                f"{path}: sentence {i} needs non-empty 'words' and 'tags' lists of "
                f"strings of the same length: {problem}"
            )
        for j, tag in enumerate(sentence["tags"]):
            # "" is an untagged word.
            problem = label_problem(tag) if tag else None
            if problem:
                raise ValueError(f"{path}: sentence {i}, tag {j}: the label {tag!r} {problem}")
        docs.append(Doc(vocab, words=sentence["words"], tags=sentence["tags"]))
    return docs


def _load_json(path: Path):
    try:
        if path.name.lower().endswith(".gz"):
            return srsly.read_gzip_json(path)
        return srsly.read_json(path)
    except (EOFError, OSError, zlib.error) as err:  # truncated or not gzip
        raise ValueError(f"{path}: the file is truncated or damaged ({err})") from None
    except ValueError as err:  # invalid JSON, or not UTF-8
        raise ValueError(f"{path}: not valid JSON ({err})") from None


def _sentence_problem(sentence) -> Optional[str]:
    """What is wrong with one sentence of a JSON corpus, or None."""
    if not isinstance(sentence, dict):
        return f"found {_json_type(sentence)}"
    for key in ("words", "tags"):
        value = sentence.get(key)
        if not isinstance(value, list) or not value:
            return f"{key!r} is {_json_type(value)}"
        for j, item in enumerate(value):
            if not isinstance(item, str) or (key == "words" and not item):
                return f"{key!r} item {j} is {json.dumps(item)}, not a non-empty string"
    if len(sentence["words"]) != len(sentence["tags"]):
        return f"{len(sentence['words'])} words but {len(sentence['tags'])} tags"
    return None


def _json_type(value) -> str:
    """How a JSON value is described in an error message."""
    if isinstance(value, (list, dict)) and not value:
        return "an empty " + ("list" if isinstance(value, list) else "object")
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def read_docs(path: PathLike, vocab: Vocab) -> List[Doc]:
    """Read Docs from a .json(.gz) toy corpus, a .spacy DocBin or (any other name) a
    CoNLL-U treebank, plain or gzipped."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"corpus file not found: {path}")
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        return read_tagged_json(path, vocab)
    if name.endswith(".spacy"):
        try:
            docs = list(DocBin().from_disk(path).get_docs(vocab))
        except ValueError as err:  # spaCy's E1014: not DocBin data, or truncated
            raise ValueError(f"{path}: {err}") from None
        return _labels_checked(docs, path)
    return list(read_conllu(path, vocab))  # .conllu, plain or gzipped


def _labels_checked(docs: List[Doc], path: Path) -> List[Doc]:
    """The Docs, unless a tag is one that no label may be (a DocBin takes any string)."""
    for i, doc in enumerate(docs):
        for token in doc:
            problem = label_problem(token.tag_) if token.tag_ else None
            if problem:
                raise ValueError(f"{path}: Doc {i}, token {token.i}: the tag {token.tag_!r} {problem}")
    return docs


def write_docbin(docs: Iterable[Doc], path: PathLike) -> int:
    """Save Docs as a .spacy DocBin (what `spacy train` reads), with their tags,
    UPOS, features, lemmas and
    user_data (a teacher's soft targets, pipeline/soft_targets.py). RETURNS: Doc count."""
    doc_bin = DocBin(attrs=["ORTH", "SPACY", "TAG", "POS", "MORPH", "LEMMA"], store_user_data=True)
    for doc in docs:
        doc_bin.add(doc)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    doc_bin.to_disk(path)
    return len(doc_bin)


def gold_examples(docs: Iterable[Doc], vocab: Vocab) -> List[Example]:
    """Examples that keep the reference tokenization (spaCy's gold_preproc)."""
    return [
        Example(
            Doc(vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc]),
            doc,
        )
        for doc in docs
        if len(doc)
    ]
