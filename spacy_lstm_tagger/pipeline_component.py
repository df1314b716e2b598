"""The `lstm_tagger` pipeline component: predicts `token.tag_` (and optionally
`token.pos_`) with the BiLSTM model of `model.py`.
"""
import math
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy
import srsly
from spacy.language import Language
from spacy.parts_of_speech import IDS as UPOS_IDS
from spacy.pipeline import TrainablePipe
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from spacy.attrs import POS, TAG
from thinc.api import Config, Model, set_dropout_rate
from thinc.types import Floats2d

from .confidence import register_extensions, set_confidences
from .model import check_loaded, fresh_copy, is_ready
from .threads import limit_threads_after_fork

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "spacy_lstm_tagger.LSTMTagger.v1"
word_width = 100
char_width = 32
char_features = 100
hidden_width = 128
depth = 1
dropout = 0.3
word_dropout = 0.25
min_word_count = 1
max_word_chars = 20
max_sequence = 256
group_size = 16
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]


@Language.factory(
    "lstm_tagger",
    assigns=["token.tag", "token.pos", "token._.tag_prob", "token._.tag_top_k"],
    default_config={
        "model": DEFAULT_MODEL,
        "overwrite": False,
        "predict_pos": False,
        "top_k": 0,
    },
    default_score_weights={"tag_acc": 1.0},
)
def make_lstm_tagger(
    nlp: Language, name: str, model: Model, overwrite: bool, predict_pos: bool, top_k: int
) -> "LSTMTagger":
    """Create an LSTMTagger.

    model (Model[List[Doc], List[Floats2d]]): the BiLSTM model.
    overwrite (bool): replace tags (and UPOS) that a Doc already has.
    predict_pos (bool): also predict UPOS into `token.pos_`, with a second output
        layer on the shared LSTM; scored as `pos_acc`.
    top_k (int): also store each token's `top_k` most likely tags with their
        probabilities in `token._.tag_top_k`; 0 for none.
    """
    return LSTMTagger(
        nlp.vocab, model, name, overwrite=overwrite, predict_pos=predict_pos, top_k=top_k
    )


class LSTMTagger(TrainablePipe):
    """A BiLSTM part-of-speech tagger that writes `token.tag_` (and `token.pos_`)."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "lstm_tagger",
        *,
        overwrite: bool = False,
        predict_pos: bool = False,
        top_k: int = 0,
    ):
        if not isinstance(top_k, int) or top_k < 0:
            raise ValueError(f"[{name}] top_k must be a whole number >= 0, got {top_k!r}")
        self.vocab = vocab
        self.model = model
        self.name = name
        # The labels live in cfg, so the inherited to_disk / from_disk save them.
        self.cfg = {
            "labels": [],
            "pos_labels": [],
            "overwrite": overwrite,
            "predict_pos": predict_pos,
            # Divides the scores behind tag_prob/tag_top_k; fitted on dev by train.py.
            "tag_temperature": 1.0,
        }
        # A config setting only, not in cfg: the cfg file read at loading would
        # override `spacy.load(..., config=...)`; config.cfg keeps it.
        self.top_k = top_k
        register_extensions()

    @property
    def labels(self) -> tuple:
        """The XPOS tags the component predicts."""
        return tuple(self.cfg["labels"])

    @property
    def pos_labels(self) -> tuple:
        """The UPOS labels the component predicts (empty unless predict_pos)."""
        return tuple(self.cfg["pos_labels"])

    @property
    def label_data(self) -> Union[tuple, Dict[str, List[str]]]:
        """What `initialize(labels=...)` takes back: the tags, or with
        predict_pos a dict of "tag" and "pos" labels."""
        if self.cfg["predict_pos"]:
            return {"tag": list(self.labels), "pos": list(self.pos_labels)}
        return self.labels

    def add_label(self, label: str) -> int:
        """Add an XPOS tag before `initialize`. RETURNS (int): 1 if new, else 0."""
        return self._add(self.cfg["labels"], label)

    def add_pos_label(self, label: str) -> int:
        """Add a UPOS label before `initialize`. RETURNS (int): 1 if new, else 0."""
        if label not in UPOS_IDS:
            raise ValueError(f"[{self.name}] {label!r} is not a UPOS label")
        return self._add(self.cfg["pos_labels"], label)

    def _add(self, labels: List[str], label: str) -> int:
        if not isinstance(label, str):
            raise ValueError(f"[{self.name}] labels must be strings, got {label!r}")
        if label in labels:
            return 0
        if is_ready(self.model):
            raise ValueError(
                f"[{self.name}] cannot add label {label!r}: the component is already "
                "initialized and its output layer has a fixed size"
            )
        labels.append(label)
        self.vocab.strings.add(label)
        return 1

    def _require_ready(self) -> None:
        if not is_ready(self.model):
            raise ValueError(
                f"[{self.name}] the component is not initialized: call "
                "nlp.initialize() with training examples (or load a trained pipeline) "
                "before using it"
            )

    def predict(self, docs: Iterable[Doc]) -> List[Floats2d]:
        """Log-probabilities per token of each Doc, tags then UPOS labels."""
        self._require_ready()
        limit_threads_after_fork()
        return self.model.predict(list(docs))

    def set_annotations(self, docs: Iterable[Doc], scores: List[Floats2d]) -> None:
        """Write the most likely tag (and UPOS label) of each token, and how
        likely it is (`token._.tag_prob`, and `token._.tag_top_k` if top_k)."""
        n_tags = len(self.labels)
        tag_hashes = numpy.array(
            [self.vocab.strings[label] for label in self.labels], dtype="uint64"
        )
        pos_ids = numpy.array([UPOS_IDS[p] for p in self.pos_labels], dtype="uint64")
        attrs = [TAG, POS] if self.cfg["predict_pos"] else [TAG]
        docs = list(docs)
        if not docs:
            return
        # The whole batch's scores at once; only the writing is per Doc.
        flat = self.model.ops.to_numpy(self.model.ops.xp.concatenate(scores))
        best = flat[:, :n_tags].argmax(axis=1)
        columns = [tag_hashes[best]]
        if self.cfg["predict_pos"]:
            columns.append(pos_ids[flat[:, n_tags:].argmax(axis=1)])
        values = numpy.stack(columns, axis=1)
        end = 0
        for doc in docs:
            start, end = end, end + len(doc)
            if start == end:
                continue
            set_confidences(
                doc, flat[start:end, :n_tags], best[start:end], self.labels, self.top_k,
                self.cfg["tag_temperature"],
            )
            doc_values = values[start:end]
            if not self.cfg["overwrite"]:
                existing = doc.to_array(attrs).reshape(doc_values.shape)
                doc_values = numpy.where(existing != 0, existing, doc_values)
            doc.from_array(attrs, doc_values)

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Callable] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of examples. RETURNS (Dict[str, float]): losses."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "LSTMTagger.update")
        self._require_ready()
        if not any(len(eg.predicted) for eg in examples):
            return losses
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_scores = self.get_loss(examples, scores)
        backprop(d_scores)
        if sgd not in (None, False):
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]):
        """Negative log-likelihood of the gold tags (and UPOS labels), averaged
        over the tokens that have one; tokens without a gold label are ignored.
        RETURNS (Tuple[float, List[Floats2d]]): the loss and its gradient.
        """
        examples = list(examples)
        validate_examples(examples, "LSTMTagger.get_loss")
        xp = self.model.ops.xp
        lengths = [len(s) for s in scores]
        flat = xp.concatenate(scores) if scores else self.model.ops.alloc2f(0, 0)
        d_flat = xp.zeros_like(flat)
        heads = [("TAG", self.labels, 0)]
        if self.cfg["predict_pos"]:
            heads.append(("POS", self.pos_labels, len(self.labels)))
        loss = 0.0
        for attr, labels, offset in heads:
            rows, columns = self._gold_indices(examples, attr, labels)
            if not rows:
                continue
            rows = xp.asarray(rows)
            columns = xp.asarray(columns) + offset
            loss += float(-flat[rows, columns].sum()) / len(rows)
            d_flat[rows, columns] = -1.0 / len(rows)
        return loss, self.model.ops.unflatten(d_flat, lengths)

    def _gold_indices(self, examples: List[Example], attr: str, labels: Sequence[str]):
        """Flat token rows and label columns of the gold annotation of `attr`."""
        label_index = {label: i for i, label in enumerate(labels)}
        rows: List[int] = []
        columns: List[int] = []
        start = 0
        for eg in examples:
            for i, gold in enumerate(self._aligned(eg, attr)):
                if not gold:  # missing or misaligned: no loss
                    continue
                if gold not in label_index:
                    raise ValueError(
                        f"[{self.name}] gold {attr.lower()} label {gold!r} (token "
                        f"{i} of {eg.reference.text[:60]!r}) is not among the "
                        f"{len(labels)} labels seen at initialize"
                    )
                rows.append(start + i)
                columns.append(label_index[gold])
            start += len(eg.predicted)
        return rows, columns

    def _aligned(self, eg: Example, attr: str) -> List[str]:
        """The gold `attr` of each predicted token ("" if missing or misaligned)."""
        try:
            return eg.get_aligned(attr, as_string=True)
        except ValueError as err:  # spaCy's E949: the texts differ
            raise ValueError(f"[{self.name}] example {eg.reference.text[:60]!r}: {err}") from None

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Union[Sequence[str], Dict[str, Sequence[str]]]] = None,
    ) -> None:
        """Collect the labels and build the model's index tables from the
        training examples.

        labels: tags to use instead of those seen in the examples; with
            predict_pos, a dict with "tag" and "pos" lists (as `label_data`).
        """
        validate_get_examples(get_examples, "LSTMTagger.initialize")
        docs = [eg.predicted for eg in get_examples()]
        if not docs or not any(len(doc) for doc in docs):
            raise ValueError(
                f"[{self.name}] cannot initialize from an empty training set: "
                "it needs examples with tokens"
            )
        for eg in get_examples():
            self._aligned(eg, "TAG")  # refuse an unalignable example now, not mid-training
        if isinstance(labels, dict):
            tags, pos_labels = labels.get("tag"), labels.get("pos")
        else:
            tags, pos_labels = labels, None
        self.cfg["labels"] = []
        self.cfg["pos_labels"] = []
        for tag in tags if tags is not None else self._seen(get_examples, "tag_"):
            self.add_label(tag)
        if self.cfg["predict_pos"]:
            seen_pos = pos_labels if pos_labels is not None else self._seen(get_examples, "pos_")
            for label in seen_pos:
                self.add_pos_label(label)
        if not self.labels:
            raise ValueError(
                f"[{self.name}] no gold tags in the training examples: "
                "token.tag_ is empty everywhere"
            )
        if self.cfg["predict_pos"] and not self.pos_labels:
            raise ValueError(
                f"[{self.name}] predict_pos is set, but no training example has "
                "a gold token.pos_"
            )
        self.model.set_dim("nO", len(self.labels), force=True)
        self.model.set_dim("nP", len(self.pos_labels), force=True)
        self.model.initialize(X=docs)
        # One forward pass now, so that a shape problem shows at initialize.
        self.model.predict(list(islice(docs, 2)))

    @staticmethod
    def _seen(get_examples: Callable, attr: str) -> List[str]:
        return sorted(
            {getattr(t, attr) for eg in get_examples() for t in eg.reference}
            - {""}
        )

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, float]:
        """`tag_acc`, and `pos_acc` when predicting UPOS, by spaCy's scorer."""
        examples = list(examples)
        validate_examples(examples, "LSTMTagger.score")
        scores = Scorer.score_token_attr(examples, "tag", **kwargs)
        if self.cfg["predict_pos"]:
            scores.update(Scorer.score_token_attr(examples, "pos", **kwargs))
        return scores

    # Loading reads and checks everything first and changes the component only
    # on success: a damaged file leaves it as it was, never half-loaded.

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "LSTMTagger":
        """Load the component from a bytestring (as written by `to_bytes`).

        exclude (Iterable[str]): names of serialization fields to leave out.
        RETURNS (LSTMTagger): the component, loaded.
        """
        self._validate_serialization_attrs()
        where = f"the serialized component {self.name!r}"
        try:
            msg = srsly.msgpack_loads(bytes_data)
        except Exception as err:  # msgpack has several error types for bad input
            raise self._load_error(where, err) from None
        if not isinstance(msg, dict):
            raise self._load_error(where, "not a serialized component")
        for key in ("cfg", "model"):
            if key not in exclude and key not in msg:
                raise self._load_error(where, f"its {key!r} entry is missing")
        cfg = None
        if "cfg" not in exclude:
            try:
                cfg = srsly.json_loads(msg["cfg"])
            except Exception as err:
                raise self._load_error(f"{where} (cfg)", err) from None
        model_data = None if "model" in exclude else msg["model"]
        model = self._load_model(f"{where} (model)", cfg, model_data)
        if "vocab" not in exclude and "vocab" in msg:
            self.vocab.from_bytes(msg["vocab"], exclude=exclude)
        self._swap_in(cfg, model)
        return self

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "LSTMTagger":
        """Load the component from its directory (as written by `to_disk`).

        path (str / Path): the component's directory.
        exclude (Iterable[str]): names of serialization fields to leave out.
        RETURNS (LSTMTagger): the component, loaded.
        """
        self._validate_serialization_attrs()
        path = Path(path)
        cfg = None if "cfg" in exclude else self._read(path / "cfg", srsly.read_json)
        model_data = None if "model" in exclude else self._read(path / "model", Path.read_bytes)
        model = self._load_model(path / "model", cfg, model_data)
        if "vocab" not in exclude:
            self.vocab.from_disk(path / "vocab", exclude=exclude)
        self._swap_in(cfg, model)
        return self

    def _read(self, path: Path, read: Callable[[Path], Any]) -> Any:
        if not path.exists():
            raise self._load_error(path, "the file is missing", FileNotFoundError)
        try:
            return read(path)
        except Exception as err:
            raise self._load_error(path, err) from None

    def _load_model(self, where: Any, cfg: Optional[Dict[str, Any]], data: Optional[bytes]) -> Model:
        """Check `cfg`, load `data` into a fresh copy of the model, and check that
        the two fit each other and the config.
        RETURNS (Model): the new model, or the current one if `data` is None."""
        if cfg is not None and not isinstance(cfg, dict):
            raise self._load_error(where, "the cfg is not a JSON object")
        merged = self.cfg if cfg is None else {**self.cfg, **cfg}
        for key in ("labels", "pos_labels"):
            value = merged.get(key)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self._load_error(where, f"cfg {key!r} is not a list of strings")
        temperature = merged.get("tag_temperature")
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not math.isfinite(temperature)
            or temperature <= 0
        ):
            raise self._load_error(
                where, f"cfg 'tag_temperature' must be a finite number > 0, got {temperature!r}"
            )
        bad_pos = [label for label in merged["pos_labels"] if label not in UPOS_IDS]
        if bad_pos:
            raise self._load_error(where, f"cfg 'pos_labels' has non-UPOS labels {bad_pos}")
        if data is None:
            model = self.model
        else:
            try:
                srsly.msgpack_loads(data)
            except Exception as err:  # msgpack has several error types for bad input
                raise self._load_error(where, f"the file is damaged or truncated ({err})") from None
            model = fresh_copy(self.model)
            try:
                model.from_bytes(data)
                check_loaded(model, self.model)
            except Exception as err:
                raise self._load_error(where, err) from None
        if is_ready(model):
            n_tags, n_pos = model.get_dim("nO"), model.get_dim("nP")
            if (n_tags, n_pos) != (len(merged["labels"]), len(merged["pos_labels"])):
                raise self._load_error(
                    where,
                    f"the weights have {n_tags} tag and {n_pos} UPOS outputs, but cfg "
                    f"has {len(merged['labels'])} tags and {len(merged['pos_labels'])} "
                    "UPOS labels",
                )
        return model

    def _swap_in(self, cfg: Optional[Dict[str, Any]], model: Model) -> None:
        if cfg is not None:
            self.cfg.update(cfg)
        self.model = model
        for label in self.labels:
            self.vocab.strings.add(label)

    def _load_error(self, where: Any, problem: Any, kind: type = ValueError) -> Exception:
        """An error that names the component, the file and the problem."""
        # Our own checks raise plain ValueErrors; anything else comes from a parser.
        if isinstance(problem, Exception) and type(problem) is not ValueError:
            problem = f"the data is damaged ({type(problem).__name__}: {problem})"
        return kind(f"[{self.name}] cannot load {where}: {problem}")
