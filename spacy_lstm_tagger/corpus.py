"""Tagged corpora -> spaCy Docs and Examples, whatever their format."""
from pathlib import Path
from typing import Iterable, List, Union

import srsly
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.vocab import Vocab

from .conllu import read_conllu

PathLike = Union[str, Path]
# The tutorial's corpus, installed with the package.
TOY_CORPUS = Path(__file__).resolve().parent / "corpus" / "toy.json"


def read_tagged_json(path: PathLike, vocab: Vocab) -> List[Doc]:
    """Read a JSON list of {"words": [...], "tags": [...]} sentences (corpus/toy.json)."""
    docs = []
    for i, sentence in enumerate(srsly.read_json(path)):
        words, tags = sentence.get("words"), sentence.get("tags")
        if not words or not tags or len(words) != len(tags):
            raise ValueError(
                f"{path}: sentence {i} needs non-empty 'words' and 'tags' lists "
                "of the same length"
            )
        docs.append(Doc(vocab, words=words, tags=tags))
    return docs


def read_docs(path: PathLike, vocab: Vocab) -> List[Doc]:
    """Read Docs from a .json toy corpus, a .spacy DocBin or (any other name) a
    CoNLL-U treebank, plain or gzipped."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"corpus file not found: {path}")
    name = path.name.lower()
    if name.endswith(".json"):
        return read_tagged_json(path, vocab)
    if name.endswith(".spacy"):
        return list(DocBin().from_disk(path).get_docs(vocab))
    return list(read_conllu(path, vocab))  # .conllu, plain or gzipped


def write_docbin(docs: Iterable[Doc], path: PathLike) -> int:
    """Save Docs as a .spacy DocBin (what `spacy train` reads). RETURNS: Doc count."""
    doc_bin = DocBin(attrs=["ORTH", "SPACY", "TAG", "POS"], store_user_data=False)
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
