"""Where the benchmarks find their peers: one virtual environment per peer, made by
``benchmarks/peers/install.py`` under ``benchmarks/.peers/<name>`` (or under the folder named by
the environment variable ``EQUISAMPLE_PEERS``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PEERS_ROOT = Path(os.environ.get("EQUISAMPLE_PEERS", Path(__file__).resolve().parent / ".peers"))


def peer_python(name: str) -> Path:
    """The Python interpreter of peer environment ``name`` (it may not exist yet)."""
    return PEERS_ROOT / name / "bin" / "python"


def rscript() -> str | None:
    """``Rscript`` on the PATH, or None."""
    return shutil.which("Rscript")


def missing_message(name: str) -> str:
    return (f"not installed ({peer_python(name)} missing: run "
            f"python benchmarks/peers/install.py {name})")
