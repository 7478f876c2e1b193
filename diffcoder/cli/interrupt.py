"""Ctrl-C during decoding cancels it: the model stops within one forward and the command ends as
cancelled (exit code 1, nothing written); a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def cancel_on_interrupt(stream: TextIO | None = None) -> Iterator[threading.Event]:
    """An event that the first SIGINT during the block sets (pass it as `cancel`)."""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel  # signal handlers belong to the main thread
        return
    out = stream or sys.stderr

    def on_interrupt(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        out.write("\ncancelling after this step (Ctrl-C again to stop at once)\n")
        out.flush()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)
