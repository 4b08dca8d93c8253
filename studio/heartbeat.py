"""Beat from a thread while a long, possibly silent step runs (an image build, sending an
image to a remote engine), so the reaper can tell a slow step from a dead worker."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)


@contextlib.contextmanager
def beating(beat: Callable[[], None], *, every: float, name: str) -> Iterator[None]:
    """Call `beat` every `every` seconds on a daemon thread until the block ends. A failed
    beat is logged and the next one tried (the database may blink); the thread closes its
    own database connection when it stops."""
    from django.db import connection

    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(every):
                try:
                    beat()
                except Exception:
                    log.warning("%s: heartbeat failed", name, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every)
