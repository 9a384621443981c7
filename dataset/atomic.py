"""Atomic file writes: temp file in the same dir + fsync + os.replace, then fsync the dir.

A crash never leaves a half-written file under a final name. Shared by the dataset, checkpoint
and video code.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dataset.errors import DatasetNotFoundError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "ensure_dir",
    "fsync_dir",
    "is_temp_name",
    "temp_path_for",
]

_TEMP_RE = re.compile(r"^\..*\.tmp-[0-9a-f]{12}(\.[^.]*)?$")


def temp_path_for(path: str | Path) -> Path:
    """Hidden unique temp path next to `path`, keeping its suffix so tools pick the right format.

    E.g. ``data/episode_000001.parquet`` -> ``data/.episode_000001.tmp-<12 hex>.parquet``.
    """
    p = Path(path)
    return p.with_name(f".{p.stem}.tmp-{uuid.uuid4().hex[:12]}{p.suffix}")


def is_temp_name(name: str) -> bool:
    """True if a file name was made by `temp_path_for` (an orphan if found after a crash)."""
    return _TEMP_RE.match(name) is not None


def fsync_dir(path: str | Path) -> None:
    """Fsync a directory so renames/creations inside it survive a power loss."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories; rename durability is best effort there
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems (e.g. certain network mounts) refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    """Flush a file's contents to disk before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: str | Path) -> Path:
    """Create `path` (and parents) if missing, fsyncing each parent whose listing changed."""
    p = Path(path)
    missing: list[Path] = []
    cur = p
    while not cur.exists():
        missing.append(cur)
        if cur.parent == cur:
            break
        cur = cur.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        fsync_dir(d.parent)
    return p


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path in `path`'s dir; on success fsync it and os.replace() it onto `path`.

    On any exception (including KeyboardInterrupt) the temp file is removed and `path` is left
    untouched, so readers only ever see the old complete file or the new complete file.
    """
    final = Path(path)
    ensure_dir(final.parent)
    tmp = temp_path_for(final)
    try:
        yield tmp
        if not tmp.is_file():
            raise DatasetNotFoundError(
                f"atomic_path: nothing was written to the temp file {tmp} for {final}; "
                "write the data to the yielded path inside the `with` block"
            )
        _fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (all or nothing, durable once this returns)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write `text` to `path` atomically (all or nothing, durable once this returns)."""
    atomic_write_bytes(path, text.encode(encoding))
