"""The files of a work dir, line by line: reading that never crashes, appends that write fully or raise, and
one writer at a time.

A work dir is written by one process at a time: :class:`WriterLock` holds an OS lock (``fcntl.flock``) on
``workbench.lock`` for as long as a collection or a tuning run writes, and a second writer is refused with
a message naming the holder (its PID and command). The kernel drops the lock when the holder dies, so a
killed run never leaves the dir locked.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK_FILE = "workbench.lock"


class WorkDirBusy(RuntimeError):
    """Another process is writing the work dir."""


class WriterLock:
    """The one-writer lock of a work dir (a context manager; ``acquire`` raises :class:`WorkDirBusy`)."""

    def __init__(self, work_dir: str | Path) -> None:
        self.path = Path(work_dir) / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> str:
        """Who holds the lock, as its lock file says (``PID 123 (workbench collect ...) since ...``)."""
        try:
            info = json.loads(self.path.read_text() or "{}")
            return f"PID {info['pid']} ({info['command']}) since {info['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def acquire(self) -> WriterLock:
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WorkDirBusy(f"{self.path.parent} is being written by {self.holder()}; wait for it to finish, stop "
                              "it, or use another work dir") from None
        except OSError:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) or "python",
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError:
            os.close(fd)  # closing drops the lock too
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def parse_lines(path: Path, problems: list[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for each valid line; every bad line is described in ``problems``.

    Blank lines, torn lines, invalid bytes and JSON nested too deep to parse are all problems, never errors.
    """
    if not path.is_file():
        return
    try:
        data = path.read_bytes()
    except OSError as err:
        problems.append(f"{path}: cannot be read ({err})")
        return
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            problems.append(f"{path}:{number}: blank line")
            continue
        try:
            yield number, json.loads(raw)
        except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            last = number == len(lines) and not data.endswith(b"\n")
            if isinstance(err, RecursionError):
                why = "JSON nested too deeply"
            elif last:
                why = "truncated last line (was a run killed while writing?)"
            else:
                why = f"invalid JSON ({getattr(err, 'msg', None) or getattr(err, 'reason', None) or err})"
            problems.append(f"{path}:{number}: {why}")


def raw_lines(path: Path) -> list[bytes]:
    """The lines of a file as bytes, numbered as :func:`parse_lines` numbers them (index + 1)."""
    if not path.is_file():
        return []
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def fsync_dir(path: Path) -> None:
    """Make a file's creation or rename in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_line(path: Path, obj: Any) -> None:
    """Append one JSON line and fsync it; raises OSError unless every byte was written.

    A new file's directory entry is fsync'd too, so a crash cannot lose the file it just created.
    """
    payload = memoryview((json.dumps(obj, separators=(",", ":")) + "\n").encode())
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        while payload:
            written = os.write(fd, payload)
            if written <= 0:
                raise OSError(f"{path}: nothing written (is the disk full?)")
            payload = payload[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: written to a temporary file, fsync'd, renamed over it, dir fsync'd."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)


def repair_tail(path: Path) -> None:
    """End the file with a newline before appending.

    A complete last line that only lacks its newline is kept; a partial one (from a killed writer) is moved
    to ``<file>.partial`` so that nothing is silently dropped and appends start on a clean line.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":  # the common case: only the last byte is read
            return
        f.seek(0)
        data = f.read()
        cut = data.rfind(b"\n") + 1
        try:
            json.loads(data[cut:])
        except (ValueError, RecursionError):
            pass
        else:
            f.write(b"\n")  # a whole record without its newline: keep it
            return
        with open(str(path) + ".partial", "ab") as side:
            side.write(data[cut:] + b"\n")
        f.truncate(cut)
