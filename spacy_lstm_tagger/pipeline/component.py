"""The `lstm_tagger` pipeline component: predicts `token.tag_` and, as the
user asks (`annotate`), `token.pos_`, `token.morph` and `token.lemma_`, all from
one pass of the BiLSTM model of model.py.
"""
from copy import deepcopy
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import srsly
from spacy.language import Language
from spacy.parts_of_speech import IDS as UPOS_IDS
from spacy.pipeline import TrainablePipe
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import minibatch, registry
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.types import Floats2d

from .annotations import TokenScores, write_annotations
from .confidence import register_extensions
from .gold import aligned, gold_labels, labels_seen
from .heads import ANNOTATABLE, annotate_problems, head_labels, lemma_tables, morph_tables
from .layout import OutputLayout, label_problem
from .lemma_rules import KNOWN_SHARE, Lemmatizer, checked_rules
from .loss import tagger_loss
from .model import ModelFileError, TaggerModel, encode_docs
from .saved_cfg import SAVED_CFG, checked_cfg
from .settings import ModelSettings, rate_problems, whole_number_problems
from .threads import limit_threads_after_fork
from .token_scores import EncodedTokens, ProbabilityTable

DEFAULT_MODEL = {"@architectures": "spacy_lstm_tagger.LSTMTagger.v1", **asdict(ModelSettings())}


def morph_key_getter(token, attr: str) -> int:
    return getattr(token, attr).key


def score_tagger(
    examples: Iterable[Example], attrs: Sequence[str] = ("tag",), **kwargs
) -> Dict[str, Any]:
    """Accuracy of each of `attrs` ("tag", "pos", "morph", "lemma") by spaCy's
    scorer, as its tagger, morphologizer and lemmatizer score them: `tag_acc`,
    `pos_acc`, `morph_acc` and `morph_per_feat`, `lemma_acc`."""
    examples = list(examples)
    scores: Dict[str, Any] = {}
    for attr in attrs:
        if attr == "morph":
            # spaCy's per-feature scorer reads a predicted FEATS string from the
            # gold Doc's strings, which lack a combination that only the
            # prediction has when the gold Docs have a vocab of their own.
            for eg in examples:
                if eg.reference.vocab is not eg.predicted.vocab:
                    add = eg.reference.vocab.strings.add
                    for token in eg.predicted:
                        add(str(token.morph))
            scores.update(Scorer.score_token_attr(examples, "morph", getter=morph_key_getter, **kwargs))
            scores.update(
                Scorer.score_token_attr_per_feat(examples, "morph", getter=morph_key_getter, **kwargs)
            )
        else:
            scores.update(Scorer.score_token_attr(examples, attr, **kwargs))
    return scores


def find_lstm_tagger(nlp: Language) -> "LSTMTagger":
    """The pipeline's first lstm_tagger component."""
    for name in nlp.pipe_names:
        if nlp.get_pipe_meta(name).factory == "lstm_tagger":
            return nlp.get_pipe(name)
    raise ValueError(f"the pipeline has no lstm_tagger component (it has {nlp.pipe_names})")


@registry.scorers("spacy_lstm_tagger.tagger_scorer.v1")
def make_tagger_scorer() -> Callable:
    return score_tagger


@Language.factory(
    "lstm_tagger",
    assigns=[
        "token.tag", "token.pos", "token.morph", "token.lemma",
        "token._.tag_prob", "token._.tag_top_k", "token._.morph_prob",
    ],
    default_config={
        "model": DEFAULT_MODEL,
        "overwrite": False,
        "annotate": ["tag"],
        "morph_mode": "whole",
        "lemma_min_count": 2,
        "known_lemma_share": KNOWN_SHARE,
        "predict_pos": False,
        "pos_from_tag": False,
        "top_k": 0,
        "label_smoothing": 0.0,
        "teacher_weight": 0.5,
        "neg_prefix": "!",
        "scorer": {"@scorers": "spacy_lstm_tagger.tagger_scorer.v1"},
    },
    default_score_weights={
        "tag_acc": 1.0, "pos_acc": 0.0, "morph_acc": 0.0, "morph_per_feat": None, "lemma_acc": 0.0,
    },
)
def make_lstm_tagger(
    nlp: Language,
    name: str,
    model: Model,
    overwrite: bool,
    annotate: List[str],
    morph_mode: str,
    lemma_min_count: int,
    known_lemma_share: float,
    predict_pos: bool,
    pos_from_tag: bool,
    top_k: int,
    label_smoothing: float,
    teacher_weight: float,
    neg_prefix: str,
    scorer: Optional[Callable],
) -> "LSTMTagger":
    """Create an LSTMTagger.

    model (TaggerModel): the BiLSTM model (spacy_lstm_tagger.LSTMTagger.v1).
    overwrite (bool): replace the values of the written attributes that a Doc
        already has.
    annotate (List[str]): the attributes written: "tag" (`token.tag_`), "pos"
        (`token.pos_`), "morph" (`token.morph`), "lemma" (`token.lemma_`); each
        but "tag" is a head of its own on the shared LSTM, trained at
        initialize from the examples' gold values. Others are never touched.
    morph_mode (str): "whole": one label per FEATS string; "per_feature": one
        head per feature, which can predict combinations not seen in training.
        A trained model keeps the mode it was trained with.
    lemma_min_count (int): times a lemma rule must occur in the training
        examples to be a label of the lemma head (as spaCy's `min_tree_freq`);
        rarer rules cost output columns and are seldom predicted right.
    known_lemma_share (float): where the most likely lemma rule makes a word
        that is no lemma of the training data, a rule that makes one wins if
        its probability is at least this share of the best rule's; and a
        (form, tag) pair seen once in training keeps its lemma where that
        lemma's rule has this share or no rule makes it. 0 turns both off.
    predict_pos (bool): also predict UPOS into `token.pos_` (as "pos" in annotate).
    pos_from_tag (bool): the tags are UPOS labels (a treebank without XPOS):
        write each token's tag into `token.pos_` too, with no head of its own
        and no attribute_ruler.
    top_k (int): also store each token's `top_k` most likely tags with their
        probabilities in `token._.tag_top_k`; 0 for none.
    label_smoothing (float): share of the gold label's probability that the
        training target spreads over the other labels, as in spaCy's tagger.
    teacher_weight (float): share of the training target that comes from a
        teacher's distribution, where the training Docs carry one (distill.py).
    neg_prefix (str): a gold tag of this prefix and a label ("!NN") says the
        token is not that label.
    scorer (Optional[Callable]): scores `tag_acc`, `pos_acc`, `morph_acc` and
        `morph_per_feat`, `lemma_acc` of the attributes written.
    """
    return LSTMTagger(
        nlp.vocab, model, name, overwrite=overwrite, annotate=annotate, morph_mode=morph_mode,
        lemma_min_count=lemma_min_count, known_lemma_share=known_lemma_share,
        predict_pos=predict_pos, pos_from_tag=pos_from_tag, top_k=top_k,
        label_smoothing=label_smoothing, teacher_weight=teacher_weight,
        neg_prefix=neg_prefix, scorer=scorer,
    )


class LSTMTagger(TrainablePipe):
    """A BiLSTM tagger that writes `token.tag_` and, as asked, `token.pos_`,
    `token.morph` and `token.lemma_`."""

    def __init__(
        self,
        vocab: Vocab,
        model: TaggerModel,
        name: str = "lstm_tagger",
        *,
        overwrite: bool = False,
        annotate: Sequence[str] = ("tag",),
        morph_mode: str = "whole",
        lemma_min_count: int = 2,
        known_lemma_share: float = KNOWN_SHARE,
        predict_pos: bool = False,
        pos_from_tag: bool = False,
        top_k: int = 0,
        label_smoothing: float = 0.0,
        teacher_weight: float = 0.5,
        neg_prefix: str = "!",
        scorer: Optional[Callable] = score_tagger,
    ):
        if not isinstance(model, TaggerModel):
            raise ValueError(f"[{name}] the model must be a spacy_lstm_tagger.LSTMTagger.v1")
        problems = model.settings.problems() + annotate_problems(annotate, morph_mode)
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0:
            problems.append(f"top_k must be a whole number >= 0, got {top_k!r}")
        problems.extend(whole_number_problems("lemma_min_count", lemma_min_count))
        problems.extend(rate_problems("known_lemma_share", known_lemma_share))
        problems.extend(rate_problems("label_smoothing", label_smoothing))
        problems.extend(rate_problems("teacher_weight", teacher_weight))
        if not isinstance(neg_prefix, str):
            problems.append(f"neg_prefix={neg_prefix!r} is not a string")
        if pos_from_tag and (predict_pos or "pos" in annotate):
            problems.append(
                "pos_from_tag writes token.pos_ from the tags: it cannot go with a UPOS "
                "head (predict_pos, or 'pos' in annotate)"
            )
        if problems:
            raise ValueError(f"[{name}] invalid settings: " + "; ".join(problems))
        self.vocab = vocab
        self.model = model
        self.name = name
        # The labels live in cfg, so the inherited to_disk saves them; the
        # settings below are the config's, which config.cfg keeps.
        self.cfg: Dict[str, Any] = deepcopy(SAVED_CFG)
        self.overwrite = overwrite
        self.annotate = tuple(annotate)
        self.morph_mode = morph_mode
        self.lemma_min_count = lemma_min_count
        self.known_lemma_share = known_lemma_share
        self.predict_pos = predict_pos
        self.pos_from_tag = pos_from_tag
        self.lemmatizer = Lemmatizer([], {})
        self._layout: Optional[OutputLayout] = None
        self.top_k = top_k
        self.label_smoothing = label_smoothing
        self.teacher_weight = teacher_weight
        self.neg_prefix = neg_prefix
        self.scorer = scorer
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
    def layout(self) -> OutputLayout:
        """Which columns of the scores are which head's."""
        if self._layout is None:  # labels added since
            self._layout = OutputLayout(head_labels(self.cfg))
        return self._layout

    @property
    def heads(self) -> Tuple[str, ...]:
        """The attributes the component writes: `annotate`, and "pos" with
        predict_pos, in the order of ANNOTATABLE."""
        asked = set(self.annotate) | ({"pos"} if self.predict_pos else set())
        return tuple(name for name in ANNOTATABLE if name in asked)

    @property
    def attributes(self) -> Tuple[str, ...]:
        """The attributes the component writes: its heads', and "pos" with
        pos_from_tag, in the order of ANNOTATABLE."""
        asked = set(self.heads) | ({"pos"} if self.pos_from_tag else set())
        return tuple(name for name in ANNOTATABLE if name in asked)

    @property
    def label_data(self) -> Union[tuple, Dict[str, Any]]:
        """What `initialize(labels=...)` takes back: the tags, or with other
        heads a dict of "tag", "pos", and the cfg's morph and lemma entries."""
        extra = [key for key in ("morph_labels", "morph_features", "lemma_rules") if self.cfg[key]]
        if self.predict_pos or extra:
            return {
                "tag": list(self.labels), "pos": list(self.pos_labels),
                **{key: deepcopy(self.cfg[key]) for key in extra},
            }
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
        if not isinstance(label, str) or not label:
            raise ValueError(f"[{self.name}] labels must be non-empty strings, got {label!r}")
        problem = label_problem(label)
        if problem:
            raise ValueError(f"[{self.name}] cannot add the label {label!r}: it {problem}")
        if label in labels:
            return 0
        if self.model.is_ready:
            raise ValueError(
                f"[{self.name}] cannot add label {label!r}: the component is already "
                "initialized and its output layer has a fixed size"
            )
        labels.append(label)
        self._layout = None
        self.vocab.strings.add(label)
        return 1

    def _require_ready(self) -> None:
        if not self.model.is_ready:
            raise ValueError(
                f"[{self.name}] the component is not initialized: call "
                "nlp.initialize() (with training examples, or after add_label) or "
                "load a trained pipeline before using it"
            )

    def __call__(self, doc: Doc) -> Doc:
        """Annotate one Doc: as `set_annotations(predict(...))`, faster."""
        error_handler = self.get_error_handler()
        try:
            self._annotate([doc])
            return doc
        except Exception as e:
            error_handler(self.name, self, [doc], e)

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Annotate a stream of Docs, `batch_size` at a time: as
        `set_annotations(predict(...))` for each batch, faster."""
        error_handler = self.get_error_handler()
        for docs in minibatch(stream, size=batch_size):
            try:
                self._annotate(docs)
                yield from docs
            except Exception as e:
                error_handler(self.name, self, docs, e)

    def _annotate(self, docs: List[Doc]) -> None:
        """The output layers run only for the heads written and, for the lemma
        head, only for the tokens that the lemma lookup does not decide."""
        self._require_ready()
        limit_threads_after_fork()
        if docs:
            network = self.model.tagging_network()
            scores = EncodedTokens(network, encode_docs(self.model, docs, network), self.layout)
            self._write(docs, scores)

    def predict(self, docs: Iterable[Doc]) -> List[Floats2d]:
        """Probabilities per token of each Doc, each head's columns normalised on
        their own (tags, then UPOS labels: see `layout`)."""
        self._require_ready()
        limit_threads_after_fork()
        return self.model.predict(list(docs))

    def set_annotations(self, docs: Iterable[Doc], scores: List[Floats2d]) -> None:
        """Write the most likely tag (and UPOS label) of each token, and how
        likely it is (`token._.tag_prob`, and `token._.tag_top_k` if top_k)."""
        docs = list(docs)
        if not docs:
            return
        # The whole batch's scores at once; only the writing is per Doc.
        flat = self.model.ops.to_numpy(self.model.ops.xp.concatenate(scores))
        self._write(docs, ProbabilityTable(flat, self.layout))

    def _write(self, docs: List[Doc], scores: TokenScores) -> None:
        write_annotations(
            docs, scores, self.layout, self.vocab, heads=self.heads, pos_from_tag=self.pos_from_tag,
            overwrite=self.overwrite,
            tag_temperature=self.cfg["tag_temperature"], top_k=self.top_k,
            morph_temperature=self.cfg["morph_temperature"], lemmatizer=self.lemmatizer,
        )

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Callable] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of examples. RETURNS (Dict[str, float]): losses.

        drop (float): not used: the model's own `dropout` and `word_dropout` apply.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "LSTMTagger.update")
        self._require_ready()
        if not any(len(eg.predicted) for eg in examples):
            return losses
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_scores = self.get_loss(examples, scores)
        backprop(d_scores)
        if sgd not in (None, False):
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]):
        """spaCy's tagger loss (loss.py) on the examples' gold tags (and UPOS
        labels): the gradient is the probabilities minus the targets; tokens
        without a gold label (or whose gold label does not align) are ignored.
        RETURNS (Tuple[float, List[Floats2d]]): the loss and its gradient.
        """
        examples = list(examples)
        validate_examples(examples, "LSTMTagger.get_loss")
        lengths = [len(s) for s in scores]
        flat = self.model.ops.xp.concatenate(scores) if scores else self.model.ops.alloc2f(0, 0)
        # Every head the model has learns, written or not.
        gold = {
            head.name: gold_labels(examples, head, self.neg_prefix, self.name, bool(self.teacher_weight))
            for head in self.layout
        }
        loss, d_flat = tagger_loss(
            self.layout, flat, gold,
            label_smoothing=self.label_smoothing, teacher_weight=self.teacher_weight,
        )
        return loss, self.model.ops.unflatten(d_flat, lengths)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Union[Sequence[str], Dict[str, Sequence[str]]]] = None,
    ) -> None:
        """Build a new model: labels, index tables and network. The labels are
        those given, or else those added with add_label and those seen in the
        examples, which may have no annotation at all. Calling it again builds
        a fresh model, with the labels of the new examples.

        labels: tags to use instead; with other heads, a dict as `label_data`.
        The morph head's labels come from the examples' gold `token.morph`, the
        lemma rules and lookup from their gold `token.lemma_`, with "morph" and
        "lemma" in annotate; a head asked for without gold values is an error.
        """
        validate_get_examples(get_examples, "LSTMTagger.initialize")
        examples = list(get_examples())
        for eg in examples:
            aligned(eg, "TAG", self.name)  # refuse an unalignable example now, not mid-training
        given = dict(labels) if isinstance(labels, dict) else {"tag": labels}
        tags, pos_labels = given.get("tag"), given.get("pos")
        for kind, values in (("tag", tags), ("UPOS", pos_labels)):
            for label in values or ():
                problem = label_problem(label)
                if problem:
                    raise self._error(None, f"the {kind} label {label!r} given to initialize (labels) {problem}")
        if tags is None:
            tags = self._new_labels(self.labels, examples, "tag_")
        if "pos" not in self.heads:
            pos_labels = []
        elif pos_labels is None:
            pos_labels = self._new_labels(self.pos_labels, examples, "pos_")
        if not tags and not examples:
            raise self._error(
                None,
                "no training examples were found at all" + _where_examples(nlp)
                + ", and no labels were added with add_label",
            )
        if not tags:
            raise self._error(
                None, "no labels: no example has a gold token.tag_ and none were added with add_label"
            )
        if "pos" in self.heads and not pos_labels:
            raise self._error(
                None,
                "predict_pos is set (or annotate has 'pos'), but no example has a gold "
                "token.pos_ and no UPOS label was added",
            )
        try:
            extra = {
                **morph_tables(examples, given, self.morph_mode, "morph" in self.heads),
                **lemma_tables(examples, given, "lemma" in self.heads, self.lemma_min_count),
            }
        except ValueError as err:
            raise self._error(None, err) from None
        cfg = self._checked_cfg(None, {"labels": list(tags), "pos_labels": list(pos_labels), **extra})
        extra_heads = [len(h.labels) for h in OutputLayout(head_labels(cfg)) if h.name not in ("tag", "pos")]
        model = self.model.blank_copy()
        try:
            model.build([eg.predicted for eg in examples], len(tags), len(pos_labels), extra_heads)
        except ValueError as err:
            raise self._error(None, err) from None
        self._swap_in(*self._staged(None, cfg, model))

    def _new_labels(self, labels: Sequence[str], examples: List[Example], attr: str) -> List[str]:
        """The labels of `attr` for a new model: before the first initialize, the
        labels added, then those seen in the examples' references (a negative
        "!NN" counts for NN); after it, those seen, or if none, the old ones."""
        try:
            seen = labels_seen(examples, attr, self.neg_prefix)
        except ValueError as err:
            raise self._error(None, err) from None
        if self.model.is_ready:
            return seen or list(labels)
        return list(labels) + [label for label in seen if label not in labels]

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
        """The scores of the attributes written, by the `scorer`: `tag_acc`,
        `pos_acc`, `morph_acc` and `morph_per_feat`, `lemma_acc`."""
        examples = list(examples)
        validate_examples(examples, "LSTMTagger.score")
        return self.scorer(examples, attrs=self.attributes, **kwargs)

    # Loading and initialize share one path: the new cfg and model are staged
    # beside the component and checked against each other and the config (see
    # _staged); only then are they swapped in. A damaged file leaves the
    # component as it was, never half-loaded.

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "LSTMTagger":
        """Load the component from a bytestring (as written by `to_bytes`).

        exclude (Iterable[str]): names of serialization fields to leave out.
        RETURNS (LSTMTagger): the component, loaded.
        """
        self._validate_serialization_attrs()
        where = f"the serialized component {self.name!r}"
        msg = self._parse(where, srsly.msgpack_loads, bytes_data)
        if not isinstance(msg, dict):
            raise self._error(where, "not a serialized component")
        for key in ("cfg", "model"):
            if key not in exclude and key not in msg:
                raise self._error(where, f"its {key!r} entry is missing")
        cfg = None
        if "cfg" not in exclude:
            cfg_where = f"{where} (cfg)"
            cfg = self._checked_cfg(cfg_where, self._parse(cfg_where, srsly.json_loads, msg["cfg"]))
        model = None if "model" in exclude else self._load_model(f"{where} (model)", msg["model"])
        staged = self._staged(f"{where} (model)", cfg, model)
        if "vocab" not in exclude and "vocab" in msg:
            self.vocab.from_bytes(msg["vocab"], exclude=exclude)
        self._swap_in(*staged)
        return self

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "LSTMTagger":
        """Load the component from its directory (as written by `to_disk`).

        path (str / Path): the component's directory.
        exclude (Iterable[str]): names of serialization fields to leave out.
        RETURNS (LSTMTagger): the component, loaded.
        """
        self._validate_serialization_attrs()
        cfg_file, model_file = Path(path) / "cfg", Path(path) / "model"
        cfg = None
        if "cfg" not in exclude:
            cfg = self._checked_cfg(cfg_file, self._parse(cfg_file, srsly.read_json, cfg_file))
        model = None
        if "model" not in exclude:
            model = self._load_model(model_file, self._parse(model_file, Path.read_bytes, model_file))
        staged = self._staged(model_file, cfg, model)
        if "vocab" not in exclude:
            self.vocab.from_disk(Path(path) / "vocab", exclude=exclude)
        self._swap_in(*staged)
        return self

    def _parse(self, where: Any, read: Callable[[Any], Any], data: Any) -> Any:
        """read(data), or an error that names `where` (and FileNotFoundError for
        a missing file)."""
        if isinstance(data, Path) and not data.exists():
            raise self._error(where, "the file is missing", FileNotFoundError)
        try:
            return read(data)
        except Exception as err:  # the parsers (json, msgpack, OS) raise many types
            raise self._error(where, f"the data is damaged ({type(err).__name__}: {err})") from None

    def _load_model(self, where: Any, data: bytes) -> TaggerModel:
        try:
            return self.model.blank_copy().from_bytes(data)
        except ModelFileError as err:
            raise self._error(where, err) from None

    def _staged(
        self, where: Any, cfg: Optional[Dict[str, Any]], model: Optional[TaggerModel]
    ) -> Tuple[Dict[str, Any], TaggerModel]:
        """The (checked) cfg and model to swap in, the current ones where None,
        checked against each other and the component's settings."""
        cfg = self.cfg if cfg is None else cfg
        model = self.model if model is None else model
        if model.is_ready:
            shape = model.shape
            n_tags, n_pos = len(cfg["labels"]), len(cfg["pos_labels"])
            if (shape.n_tags, shape.n_pos) != (n_tags, n_pos):
                raise self._error(
                    where,
                    f"the weights have {shape.n_tags} tag and {shape.n_pos} UPOS outputs, "
                    f"but cfg has {n_tags} tags and {n_pos} UPOS labels",
                )
            if self.predict_pos and not shape.n_pos:
                raise self._error(
                    where, "predict_pos is set, but the model has no UPOS output layer"
                )
            layout = OutputLayout(head_labels(cfg))
            extra = [(h.name, len(h.labels)) for h in layout if h.name not in ("tag", "pos")]
            if tuple(size for _, size in extra) != shape.extra_heads:
                raise self._error(
                    where,
                    f"the weights have heads of {list(shape.extra_heads)} outputs after the tag "
                    f"and UPOS heads, but cfg has {extra}",
                )
            not_upos = [tag for tag in cfg["labels"] if tag not in UPOS_IDS] if self.pos_from_tag else []
            if not_upos:
                raise self._error(
                    where,
                    f"pos_from_tag is set, but the tag {not_upos[0]!r} is not a UPOS label: "
                    "only a model whose tags are UPOS can write them into token.pos_",
                )
            untrained = [name for name in self.heads if not layout.of(name)]
            if untrained:
                raise self._error(
                    where,
                    f"annotate asks for {untrained}, but the model was trained without "
                    f"{' and '.join(untrained)} head(s): it cannot write them",
                )
        return cfg, model

    def _checked_cfg(self, where: Any, cfg: Any) -> Dict[str, Any]:
        try:
            return checked_cfg(cfg)
        except ValueError as err:
            raise self._error(where, err) from None

    def _swap_in(self, cfg: Dict[str, Any], model: TaggerModel) -> None:
        self.cfg = cfg
        self.model = model
        self._layout = OutputLayout(head_labels(cfg))
        self.lemmatizer = Lemmatizer(
            checked_rules(cfg["lemma_rules"]), cfg["lemma_lookup"], cfg["lemma_lexicon"], self.known_lemma_share,
            cfg["lemma_seen_once"],
        )
        for label in self.labels:
            self.vocab.strings.add(label)

    def _error(self, where: Any, problem: Any, kind: type = ModelFileError) -> Exception:
        """An error that names the component, the file and the problem; with
        `where` None, a ValueError of initialize."""
        if where is None:
            return ValueError(f"[{self.name}] cannot initialize: {problem}")
        return kind(f"[{self.name}] cannot load {where}: {problem}")


def _where_examples(nlp: Optional[Language]) -> str:
    """Where `spacy train` looked for the training examples, as far as the
    pipeline's config says ("" if it does not)."""
    paths = nlp.config.get("paths", {}) if nlp is not None else {}
    train = paths.get("train") if isinstance(paths, dict) else None
    if not isinstance(train, str) or not train:
        return ""
    where = f" (the config's paths.train is {train}"
    if not train.endswith(".spacy") and not Path(train).is_dir():
        # spacy.Corpus.v1 skips other files with no more than a warning.
        where += (
            "; spaCy's corpus reader reads .spacy files only: convert it with "
            "`python -m spacy_lstm_tagger convert`"
        )
    return where + ")"
