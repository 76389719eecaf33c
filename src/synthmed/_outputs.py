"""Atomic output: everything is written to a staging folder, then moved into place at once.

A failure while writing (or a bad input found late) leaves the output folder as it was: no
half-written run. Items of the same name in the output folder are replaced; others are kept.
"""

from __future__ import annotations

from collections.abc import Callable
import os
from pathlib import Path
import shutil
import tempfile

__all__ = ["write_atomically"]


def write_atomically(out_dir: str | Path, write: Callable[[Path], None]) -> dict[str, Path]:
    """Call ``write(staging)``, then move what it wrote into ``out_dir``.

    Returns ``{name: final path}`` for every file or folder written.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write(staging)
        out_dir.mkdir(exist_ok=True)
        files = {}
        for item in sorted(staging.iterdir()):
            target = out_dir / item.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(item, target)
            files[item.name] = target
        return files
    finally:
        shutil.rmtree(staging, ignore_errors=True)
