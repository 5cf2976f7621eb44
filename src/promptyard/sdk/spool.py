"""An on-disk spool: what could not be sent (server down, shutdown with a full queue) waits in
files and is replayed later, also by the next process that uses the same directory.

One file per batch, written to a temporary name and renamed, so a reader never sees half a
file. A replaying process first claims a file by renaming it (atomic), so two processes sharing
the directory never send the same file at once; claims of processes that died are released on
start. Items carry client ids, so a file sent twice (a crash between send and delete) still
stores each log once.

Logged requests hold users' text: the directory is created 0700 and every file 0600, whatever
the umask says.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from promptyard.sdk.text import dumps

log = logging.getLogger("promptyard.sdk")
SUFFIX = ".jsonl"
CLAIM = ".claim-"
DIR_MODE, FILE_MODE = 0o700, 0o600


class Spool:
    def __init__(self, directory: str | os.PathLike[str], max_bytes: int = 512 * 1024 * 1024):
        self.dir = Path(directory)
        self.dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._release_dead_claims()

    def write(self, items: list[dict[str, Any]]) -> int:
        """Store items; returns how many were stored (0 when the spool is full or unwritable)."""
        if not items:
            return 0
        data = b"".join(dumps(item) + b"\n" for item in items)
        if self.size() + len(data) > self.max_bytes:
            log.error("promptyard spool %s is full (%d bytes): %d items dropped", self.dir, self.max_bytes, len(items))
            return 0
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        tmp = self.dir / f".{name}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with open(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.dir / name)
            _fsync_dir(self.dir)
        except OSError as exc:
            log.error("promptyard spool %s: cannot write (%s): %d items dropped", self.dir, exc, len(items))
            return 0
        return len(items)

    def size(self) -> int:
        return sum(p.stat().st_size for p in self._files(claimed=True))

    def pending(self) -> int:
        """Number of spooled files not yet replayed."""
        return len(self._files())

    def claim(self) -> tuple[Path, list[dict[str, Any]]] | None:
        """The oldest unclaimed file, renamed as ours, with its items; None when empty."""
        for path in self._files():
            claimed = path.with_name(f"{path.name}{CLAIM}{os.getpid()}")
            try:
                os.rename(path, claimed)
            except OSError:
                continue  # another process took it first
            return claimed, _read(claimed)
        return None

    def done(self, claimed: Path) -> None:
        claimed.unlink(missing_ok=True)

    def release(self, claimed: Path) -> None:
        """Give a claimed file back (sending failed; try again later)."""
        original = claimed.name.split(CLAIM)[0]
        try:
            os.rename(claimed, claimed.with_name(original))
        except OSError:
            pass

    def _files(self, claimed: bool = False) -> list[Path]:
        try:
            names = sorted(os.listdir(self.dir))
        except OSError:
            return []
        return [self.dir / n for n in names
                if not n.startswith(".") and (n.endswith(SUFFIX) or (claimed and CLAIM in n))]

    def _release_dead_claims(self) -> None:
        for path in self._files(claimed=True):
            if CLAIM in path.name and not _alive(int(path.name.rsplit("-", 1)[1] or 0)):
                self.release(path)


def _read(path: Path) -> list[dict[str, Any]]:
    items = []
    with open(path, "rb") as f:
        for line in f:
            try:
                items.append(json.loads(line))
            except ValueError:
                log.error("promptyard spool %s: skipping a damaged line", path)  # a torn write
    return items


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (a power cut, not only a killed process, keeps the file)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows cannot open a directory; the file's own fsync is what we can do
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
