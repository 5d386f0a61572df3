"""Crash-safe file writes: a reader sees the old file, or the whole new one, never a part.

The bytes go to a temporary file in the destination folder (same file system), which is
flushed and fsync'ed, then renamed over the final name (``os.replace`` is atomic on POSIX),
and the folder is fsync'ed so the rename itself survives a power cut. A failure at any
step removes the temporary file and leaves the final name untouched.

Every crash-safe write of the project goes through here: :func:`atomic_writer` for writers
that stream into a file (``torch.save``), :func:`atomic_write_bytes` / :func:`atomic_write_text`
for data already in memory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Iterator

TEMP_SUFFIX = ".partial"


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms / file systems cannot open folders; the rename still happened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: on a clean exit it is fsync'ed and renamed over
    ``path``; if the block raises, it is removed and ``path`` keeps its old content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp + fsync + rename + folder fsync)."""
    with atomic_writer(path) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(directory: str | Path, older_than_s: float = 3600.0,
                             for_name: str | None = None) -> list[Path]:
    """Delete temporaries left by writers that were killed (older than ``older_than_s``),
    of every file in ``directory`` or only of the file called ``for_name``."""
    directory = Path(directory)
    removed = []
    if not directory.is_dir():
        return removed
    now = time.time()
    pattern = f".{for_name}.*{TEMP_SUFFIX}" if for_name else f".*{TEMP_SUFFIX}"
    for temp in directory.glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            if now - temp.stat().st_mtime > older_than_s:
                temp.unlink()
                removed.append(temp)
    return removed
