"""How training answers signals: SIGTERM as Ctrl-C, and a Ctrl-C that arrives while the
first one is being answered.

Both exist so that a run directory is never left saying `running` by a signal a user (or a
scheduler) can send. Handlers can only be set from the main thread; elsewhere (a notebook's
worker thread, say) nothing changes.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def terminated_as_interrupted(active: bool = True) -> Iterator[None]:
    """SIGTERM (`timeout`, `kill`, a batch scheduler's time limit) stops a training run as
    Ctrl-C does: the last finished epoch is kept and the status says `interrupted`, where the
    default action would end the process mid-write with the status still `running`. Only for a
    process training alone (the launcher and torchrun signal their workers themselves), from
    the main thread (the only one that may set a handler), and only where SIGTERM still has
    its default action (a handler of the user's is kept)."""
    if not active or not _main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Ignore Ctrl-C (and SIGTERM) for the block: while the first interrupt is answered by
    bringing the run directory back to its last saved epoch (a second of writes), a second
    one would stop those writes halfway and leave the status `running`; held, it is lost,
    and the run stops as the first one asked."""
    if not _main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
