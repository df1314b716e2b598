"""A tagged Doc as output: a JSONL record, or CoNLL-U sentences."""
import json
import math
import re
from functools import partial
from typing import IO, Callable, Dict, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Token

from ..pipeline.confidence import MORPH_PROB, TAG_PROB, TAG_TOP_K

OUTPUT_FORMATS = ("jsonl", "conllu")
# The token attributes beyond tag and UPOS that an output record may hold, in
# their order there: a JSONL token has the field when the pipeline writes it.
EXTRA_FIELDS = ("morph", "lemma")
Writer = Callable[[IO[str], Doc, int, Optional[Dict[str, object]]], None]


def written_fields(nlp: Language) -> Tuple[str, ...]:
    """The EXTRA_FIELDS that a pipeline writes: those of an lstm_tagger's
    `annotate`, and those that any other component declares it assigns
    (spaCy's `assigns`: "token.morph", "token.lemma")."""
    written = set()
    for name in nlp.pipe_names:
        meta = nlp.get_pipe_meta(name)
        if meta.factory == "lstm_tagger":
            written.update(nlp.get_pipe(name).heads)
        else:
            written.update(attr[len("token."):] for attr in meta.assigns if attr.startswith("token."))
    return tuple(field for field in EXTRA_FIELDS if field in written)


def token_value(token: Token, field: str) -> str:
    """A token's FEATS string or lemma; "" for none."""
    return str(token.morph) if field == "morph" else token.lemma_


def finite_or_none(value: Optional[float]) -> Optional[float]:
    """A probability rounded for output; None for a missing or NaN one."""
    return round(value, 4) if value is not None and math.isfinite(value) else None


def doc_to_record(
    doc: Doc, line_number: int, fields: Optional[Dict[str, object]] = None, extra: Sequence[str] = ()
) -> Dict[str, object]:
    """The JSONL record of a tagged Doc: the input line number, the text, the
    input record's other `fields` (an "id", metadata...), and each token's
    text, tag, UPOS (or ""), the `extra` fields of EXTRA_FIELDS ("morph": the
    FEATS string, "lemma"; "" for none), the tag's probability (and top
    tags, if asked for) and, with "morph", the FEATS string's ("morph_prob").
    A probability that is missing or not finite is null."""
    tokens = []
    for token in doc:
        entry: Dict[str, object] = {"text": token.text, "tag": token.tag_, "pos": token.pos_}
        for field in extra:
            entry[field] = token_value(token, field)
        entry["prob"] = finite_or_none(token._.get(TAG_PROB))
        top_k = token._.get(TAG_TOP_K)
        if top_k is not None:
            entry["top_k"] = [[tag, finite_or_none(p)] for tag, p in top_k]
        if "morph" in extra:
            entry["morph_prob"] = finite_or_none(token._.get(MORPH_PROB))
        tokens.append(entry)
    return {"line": line_number, "text": doc.text, **(fields or {}), "tokens": tokens}


def write_jsonl(
    out: IO[str], doc: Doc, line_number: int, fields: Optional[Dict[str, object]] = None, extra: Sequence[str] = ()
) -> None:
    # allow_nan=False: NaN is not JSON; doc_to_record leaves none, nor does the reader.
    record = doc_to_record(doc, line_number, fields, extra)
    out.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")


# A field that can be a CoNLL-U comment `# key = value`; CoNLL-U's own keys aside.
COMMENT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
CONLLU_KEYS = ("sent_id", "text", "newdoc", "newpar", "newdoc id", "newpar id")


def field_comments(fields: Dict[str, object]) -> List[str]:
    """`# key = value` for each input field whose key can be one: a string
    value as it is (JSON where it holds a line break), any other as JSON."""
    comments = []
    for key, value in fields.items():
        if not COMMENT_KEY.fullmatch(key) or key in CONLLU_KEYS:
            continue
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            value = json.dumps(value, ensure_ascii=False)
        comments.append(f"# {key} = {value}")
    return comments


# What would end a CoNLL-U column or line (a tab, or anything that
# str.splitlines breaks at), in a value that a component wrote.
BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def column_value(value: str) -> str:
    """A LEMMA or FEATS column: "_" for none, and a tab or line break within
    it replaced by a space, so that no value can split a line or a column."""
    return BREAKS.sub(" ", value) if value else "_"


def conllu_sentences(doc: Doc, line_number: int, fields: Optional[Dict[str, object]] = None) -> str:
    """One CoNLL-U sentence per sentence of the Doc (the whole Doc if nothing
    set sentences), with LEMMA, XPOS, UPOS, FEATS and the probabilities of
    the tag and the FEATS in MISC (`TagProb=`, `MorphProb=`); "_" for a value
    that no component set. Whitespace
    tokens are left out, as in UD. The input record's other fields are
    comments of the first sentence (`field_comments`)."""
    sents = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
    blocks = []
    for n, sent in enumerate(sents, start=1):
        tokens = [token for token in sent if not token.is_space]
        if not tokens:
            continue
        text = " ".join(sent.text.split())
        rows = [f"# sent_id = {line_number}-{n}", f"# text = {text}"]
        if not blocks:
            rows += field_comments(fields or {})
        for i, token in enumerate(tokens, start=1):
            misc = []
            # Not at the Doc's end: what follows it there is not part of the text.
            following = doc[token.i + 1] if token.i + 1 < len(doc) else None
            if following is not None and not token.whitespace_ and not following.is_space:
                misc.append("SpaceAfter=No")
            prob = finite_or_none(token._.get(TAG_PROB))
            if prob is not None:
                misc.append(f"TagProb={prob:.4f}")
            morph_prob = finite_or_none(token._.get(MORPH_PROB))
            if morph_prob is not None:
                misc.append(f"MorphProb={morph_prob:.4f}")
            lemma, feats = column_value(token.lemma_), column_value(str(token.morph))
            columns = [str(i), token.text, lemma, token.pos_ or "_", token.tag_ or "_", feats]
            columns += ["_", "_", "_", "|".join(misc) or "_"]
            rows.append("\t".join(columns))
        blocks.append("\n".join(rows) + "\n\n")
    return "".join(blocks)


def write_conllu(out: IO[str], doc: Doc, line_number: int, fields: Optional[Dict[str, object]] = None) -> None:
    out.write(conllu_sentences(doc, line_number, fields))


WRITERS = {"jsonl": write_jsonl, "conllu": write_conllu}  # by output format


def writer_for(output_format: str, nlp: Language) -> Writer:
    """The writer of `output_format` for the Docs of `nlp`: JSONL tokens with
    the fields that it writes (`written_fields`)."""
    if output_format == "jsonl":
        return partial(write_jsonl, extra=written_fields(nlp))
    return WRITERS[output_format]
