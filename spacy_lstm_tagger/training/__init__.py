"""Training: a whole run from files (runs), the loop (loop) over a run's
corpora (corpora) with its options (options), checkpoints saved atomically
(checkpoints), the confidence temperature fitted on dev (temperatures), the
curves (curves), UD treebanks with the settings their data asks for (ud), and
distillation (distill)."""
