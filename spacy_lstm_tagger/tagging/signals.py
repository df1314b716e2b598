"""Ctrl-C and SIGTERM while tagging: stop reading, finish what was read."""
import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

# Exit status after a signal, as a shell reports it: 128 + the signal's number.
SIGNAL_EXIT = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}


class SignalState:
    """The name of the first stopping signal received, once there is one."""

    def __init__(self):
        self.name: Optional[str] = None

    def received(self) -> Optional[str]:
        return self.name


@contextmanager
def stop_on_signals() -> Iterator[SignalState]:
    """While tagging, the first SIGINT or SIGTERM stops the input instead of
    the program: the documents already read are tagged and written, then the
    run ends. A second one interrupts at once. Forked workers inherit the
    handler, so a Ctrl-C sent to all of them does not kill them mid-batch.
    Signal handlers can only be set in the main thread; elsewhere this does nothing."""
    state = SignalState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handle(signum, frame):
        if state.name is not None:
            raise KeyboardInterrupt
        state.name = signal.Signals(signum).name

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield state
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
