"""Background work for widgets: one function at a time in a daemon thread, its failure shown, never lost."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any


class BackgroundTask:
    """Runs one function at a time in a daemon thread, so the kernel stays free while it works.

    What the function raises is kept (``error``, ``traceback``) and handed to ``on_error`` (a widget shows it;
    without one the traceback goes to stderr), never swallowed; ``on_done`` runs after every run, failed or not
    (a widget re-enables its button there).
    """

    def __init__(self, name: str, *, on_error: Callable[[BaseException], None] | None = None,
                 on_done: Callable[[], None] | None = None) -> None:
        self.name = name  # the thread's name, and what stderr says failed
        self.on_error = on_error
        self.on_done = on_done
        self.error: BaseException | None = None  # what the last run raised
        self.traceback: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Run ``fn(*args, **kwargs)`` in the background; False, and nothing started, while a run is going."""
        if self.running:
            return False
        self.error = self.traceback = None
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs), name=f"workbench:{self.name}",
                                        daemon=True)
        self._thread.start()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (or ``timeout`` seconds pass); True when nothing is running any more."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - reported below: a background failure must reach the user
            self.error, self.traceback = err, traceback.format_exc()
            if self.on_error is not None:
                self.on_error(err)
            else:
                sys.stderr.write(f"{self.name} failed:\n{self.traceback}")
        finally:
            if self.on_done is not None:
                self.on_done()
