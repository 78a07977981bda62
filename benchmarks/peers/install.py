"""Install the benchmark peers, each in its own virtual environment.

    python benchmarks/peers/install.py                # every Python peer
    python benchmarks/peers/install.py balance svy    # some of them
    python benchmarks/peers/install.py --with-r       # also R survey from Debian packages (root)

Each ``<name>.txt`` beside this script is a pip requirements file; its environment is created as
``benchmarks/.peers/<name>`` (or under ``$EQUISAMPLE_PEERS``), where ``benchmarks/_peers.py`` looks
for it. Environments whose requirements need a newer Python (rimpy: >= 3.12) use the first
``python3.13`` / ``python3.12`` found on the PATH and are skipped, with a message, when there is
none. ``R.txt`` lists the Debian packages for R survey, installed with ``apt-get``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _peers import PEERS_ROOT  # noqa: E402

NEEDS_NEW_PYTHON = {"rimpy": ("python3.13", "python3.12")}


def _runs(interpreter: str) -> bool:
    """Whether ``interpreter`` starts (a pyenv shim for a version that is not selected does not)."""
    try:
        return subprocess.run([interpreter, "-c", "pass"], capture_output=True,
                              check=False).returncode == 0
    except OSError:
        return False


def _pyenv_interpreters(candidate: str) -> list[str]:
    """``candidate`` (e.g. python3.12) in every pyenv-installed version, newest first."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    return sorted((str(p) for p in Path(root).glob(f"versions/*/bin/{candidate}")), reverse=True)


def python_for(name: str) -> str | None:
    for candidate in NEEDS_NEW_PYTHON.get(name, ()):
        found = shutil.which(candidate)
        for interpreter in ([found] if found else []) + _pyenv_interpreters(candidate):
            if _runs(interpreter):
                return interpreter
    return sys.executable if name not in NEEDS_NEW_PYTHON else None


def install(name: str) -> bool:
    requirements = HERE / f"{name}.txt"
    interpreter = python_for(name)
    if interpreter is None:
        print(f"{name}: skipped (needs {' or '.join(NEEDS_NEW_PYTHON[name])} on the PATH)")
        return False
    target = PEERS_ROOT / name
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    try:
        subprocess.run([interpreter, "-m", "venv", str(target)], check=True)
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-r", str(requirements)], check=True)
    except subprocess.CalledProcessError as error:  # the other peers still install
        print(f"{name}: NOT installed ({' '.join(map(str, error.cmd))} exited with "
              f"{error.returncode})")
        return False
    print(f"{name}: installed in {target} ({interpreter})")
    return True


def install_r() -> None:
    packages = [line.strip() for line in (HERE / "R.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True)
    print("R: installed", ", ".join(packages))


def main() -> None:
    available = sorted(p.stem for p in HERE.glob("*.txt") if p.stem != "R")
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*",
                        help=f"peer environments (default: all of {', '.join(available)})")
    parser.add_argument("--with-r", action="store_true", help="also apt-get install R survey")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(available))
    if unknown:
        parser.error(f"unknown peer environments: {', '.join(unknown)}")
    failed = [name for name in (args.names or available) if not install(name)]
    if args.with_r:
        install_r()
    if failed:
        print("not installed:", ", ".join(failed))


if __name__ == "__main__":
    main()
