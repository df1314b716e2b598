"""The tagging wing's errors and the one shape of an unreadable input line."""
from dataclasses import dataclass


class BadLineError(ValueError):
    """An input line that `--on-error stop` does not get past."""


class TagIOError(ValueError):
    """A file that cannot be read or written; the message names it and the problem."""


@dataclass
class Problem:
    """Why an input line holds no document."""

    problem: str
