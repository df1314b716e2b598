"""How a training run goes, beside its config and its corpora: one object that
travels from the command line through distillation to the training loop."""
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, Optional


@dataclass
class TrainingOptions:
    """epochs: override the config's [training] max_epochs.
    seed: override the config's seed ([system] seed).
    overrides: other config values to override, by dotted name
        ({"components.lstm_tagger.predict_pos": True}).
    resume: continue from OUTPUT/model-last (the optimizer starts afresh).
    max_minutes: stop after the epoch that reaches this much wall time.
    teachers: train this many taggers first and distill them into the final one
        (None: the config's [distillation] teachers, else 0).
    meta: entries for the saved pipelines' meta.json.
    log: where progress lines go.
    """

    epochs: Optional[int] = None
    seed: Optional[int] = None
    overrides: Dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    max_minutes: Optional[float] = None
    teachers: Optional[int] = None
    meta: Dict[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = print

    def with_changes(self, **changes) -> "TrainingOptions":
        return replace(self, **changes)
