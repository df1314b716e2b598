"""torch's threads in forked worker processes (`nlp.pipe(texts, n_process=2)`).

On Linux, spaCy forks its workers. Once the parent has run a torch operation on
several threads (loading a pipeline is enough), the OpenMP (libgomp) thread pool
copied into the child refers to threads that fork did not copy, and the child's
first parallel operation waits for them forever (spaCy#6662, spacy-stanza#34).
A forked child therefore runs torch on one thread, as torch's own DataLoader
workers do; with one worker per core that loses nothing.
"""
import os

import torch

_forked = False


def _after_fork_in_child() -> None:
    global _forked
    _forked = True


# Only marks the child: a forked process that never tags keeps its settings.
os.register_at_fork(after_in_child=_after_fork_in_child)


def limit_threads_after_fork() -> None:
    """In a forked child, before its first torch operation: one torch thread."""
    global _forked
    if _forked:
        _forked = False
        if torch.get_num_threads() > 1:
            torch.set_num_threads(1)
