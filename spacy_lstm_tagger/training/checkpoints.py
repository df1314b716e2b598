"""Pipelines saved so that an interrupted run always leaves the last good one."""
import shutil
from pathlib import Path

from spacy.language import Language


def save_atomically(nlp: Language, path: Path) -> None:
    """Write the pipeline beside `path`, then swap it in: a crash mid-write
    leaves the previous pipeline in place, never a half-written one."""
    tmp = path.with_name(f".{path.name}.tmp")
    old = path.with_name(f".{path.name}.old")
    restore_interrupted_save(path)
    nlp.to_disk(tmp)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    if old.exists():
        shutil.rmtree(old)


def restore_interrupted_save(path: Path) -> None:
    """Clean up after an interrupted save_atomically: drop a half-written
    .NAME.tmp, and if the crash came between the two renames, which leaves no
    pipeline at `path`, put the last good one back from .NAME.old."""
    tmp = path.with_name(f".{path.name}.tmp")
    old = path.with_name(f".{path.name}.old")
    if tmp.exists():
        shutil.rmtree(tmp)
    if old.exists():
        if path.exists():
            shutil.rmtree(old)
        else:
            old.rename(path)
