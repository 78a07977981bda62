"""Run every benchmark side by side and write ``docs/performance.md``.

    python -m venv .venv && . .venv/bin/activate && pip install -e ".[test]"   # once: equisample
    python benchmarks/peers/install.py --with-r        # once: the peers, each in its environment
    OPENBLAS_NUM_THREADS=1 python benchmarks/run_all.py          # full sizes (about an hour)
    OPENBLAS_NUM_THREADS=1 python benchmarks/run_all.py --quick  # small sizes, a few minutes
    python benchmarks/run_all.py --only weighting_rake simulate_policies --out /tmp/perf.md
    python benchmarks/run_all.py --only small_calls --update   # rerun one, keep the other sections

Each benchmark runs in its own process with BLAS pinned to one thread (on 2-core machines two
threads are far slower) and this repository on ``PYTHONPATH``; the welfare benchmark runs in the
``welfare`` peer environment when it exists (it imports choix and pref_voting). The page gets the
machine (processor, cores, memory), the date, the load average before and after each benchmark,
the versions of Python and numpy, and for every benchmark what it measures (its docstring), the
command and the tables it printed. A benchmark that fails is reported with its last lines; the
others still run. The page is written atomically at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _peers import peer_python  # noqa: E402


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    environment: str | None = None  # peer environment whose Python runs it
    script: str | None = None  # the script, when it is not ``<name>.py``


BENCHMARKS = (
    Benchmark("weighting_rake", "Raking against balance, svy, weightipy, rimpy and R survey",
              ("--sizes", "1e5", "1e6", "1e7", "--peer-sizes", "1e5", "1e6", "--repeats", "3"),
              ("--sizes", "1e5", "--peer-sizes", "1e5", "--repeats", "1")),
    Benchmark("weighting_calibrate", "Calibration against R survey",
              ("--sizes", "100000", "1000000", "--repeats", "3"),
              ("--sizes", "100000", "--repeats", "1")),
    Benchmark("variance_replicates", "Replicate and Taylor variance against svy and R survey",
              ("--repeat", "3"),
              ("--rows", "100000", "--participants", "10000", "--replicates", "50", "--repeat",
               "1", "--taylor-rows", "1000000")),
    Benchmark("allocation_solver", "Budget allocation against cvxpy", (), ()),
    Benchmark("allocation_integer", "Integer allocation", (), ()),
    Benchmark("allocation_breakpoints", "Allocation: breakpoint search against Newton", (), ()),
    Benchmark("sensitivity_leverage", "Leverage scores and Lewis weights", (),
              ("--sizes", "100000x50", "--repeat", "1", "--lewis", "100000x50")),
    Benchmark("simulate_policies", "Policy simulation against a plain-numpy loop and on Dask",
              ("--reps", "200", "--repeats", "2"), ("--reps", "50", "--repeats", "1")),
    Benchmark("welfare_bt_design", "Design-based Bradley–Terry against R svyglm", (), ()),
    Benchmark("welfare_bt_juries", "Bradley–Terry and juries against choix and pref_voting",
              ("--repeat", "3"), ("--repeat", "1", "--peer-juries", "10"), environment="welfare"),
    Benchmark("weighting_reference", "Reference-sample weighting against balance",
              ("speed", "--rows", "100000", "1000000"), ("speed", "--rows", "100000")),
    Benchmark("weighting_reference_compare", "Reference-sample weighting: defaults beside balance's",
              ("compare",), ("compare",), script="weighting_reference"),
    Benchmark("small_calls", "Small calls and the import against the arithmetic they do",
              ("--repeats", "1000"), ("--repeats", "200")),
    Benchmark("quota_calls", "Quota calls against the arithmetic they do", (), ()),
    Benchmark("quota_store", "Quota tracker store: decisions per second, 8 processes",
              ("--arrivals", "3000"), ("--arrivals", "500")),
    Benchmark("coverage_welfare", "Coverage of welfare standard errors",
              ("--study", "welfare", "--replicates", "1000"),
              ("--study", "welfare", "--replicates", "100"), script="coverage_studies"),
    Benchmark("coverage_bradley_terry", "Coverage of design-based Bradley–Terry intervals",
              ("--study", "bradley_terry", "--replicates", "1000"),
              ("--study", "bradley_terry", "--replicates", "100"), script="coverage_studies"),
)


def machine() -> str:
    processor = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                processor = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import numpy

    return (f"{processor}; {os.cpu_count()} cores{memory}; Python {platform.python_version()}, "
            f"numpy {numpy.__version__}")


def load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def description(script: str) -> str:
    import ast

    path = HERE / f"{script}.py"
    if not path.exists():
        return f"(`benchmarks/{script}.py` is missing.)"
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return doc.split("\nRun")[0].strip()


def run(bench: Benchmark, quick: bool, timeout: float) -> tuple[str, str, float]:
    python = sys.executable
    if bench.environment and peer_python(bench.environment).exists():
        python = str(peer_python(bench.environment))
    args = bench.quick if quick else bench.full
    script = bench.script or bench.name
    command = ["python", f"benchmarks/{script}.py", *args]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    try:
        done = subprocess.run([python, str(HERE / f"{script}.py"), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        output = done.stdout.strip()
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
            output += f"\n\nFAILED (exit {done.returncode}):\n\n```\n{tail}\n```"
    except subprocess.TimeoutExpired:
        output = f"FAILED: did not finish within {timeout:.0f} s"
    return " ".join(command), output, time.perf_counter() - start


def _sections_of(page: str) -> dict[str, str]:
    """The ``## title`` sections of a page written by this script, by title."""
    sections: dict[str, str] = {}
    title = None
    for line in page.splitlines(keepends=True):
        if line.startswith("## "):
            title = line[3:].strip()
            sections[title] = ""
        if title is not None:
            sections[title] += line
    return {t: text.rstrip("\n") + "\n" for t, text in sections.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS])
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--update", action="store_true",
                        help="replace only the chosen benchmarks' sections of an existing page")
    args = parser.parse_args()
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sections: dict[str, str] = {}
    for bench in chosen:
        before = load()
        command, output, seconds = run(bench, args.quick, args.timeout)
        sys.stderr.write(f"{bench.name}: {seconds:.0f} s\n")
        sections[bench.title] = (
            f"## {bench.title}\n\n{description(bench.script or bench.name)}\n\nCommand "
            f"(BLAS threads 1; load average before / after: {before} | {load()}; run "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {seconds:.0f} s):\n\n"
            f"```\n{command}\n```\n\n{output}\n"
        )
        # the page is rewritten after every benchmark: a long run that stops keeps what it measured
        write_page(args, started, sections, done=bench is chosen[-1])
    sys.stderr.write(f"wrote {args.out}\n")


def write_page(args: argparse.Namespace, started: str, measured: dict[str, str], *,
               done: bool) -> None:
    """Write the page atomically: the header, and the sections measured (with ``--update``, those
    of the existing page the run has not replaced yet too)."""
    header = (
        "# Performance\n\n"
        "Generated by `benchmarks/run_all.py`"
        + (" (`--quick`: small sizes)" if args.quick else "")
        + f" on {started}{'' if done else ' (run in progress)'}. Machine: {machine()}.\n\n"
        "Every benchmark is a script in `benchmarks/` that times equisample through its public "
        "API and its peers on the same data in the same run; peers live in their own "
        "environments (`python benchmarks/peers/install.py --with-r`). CPU time "
        "(`time.process_time`, R: user + system) is the steadier figure on a shared machine. "
        "Speed is never asserted in unit tests.\n\n"
    )
    sections = dict(measured)
    if args.update and args.out.exists():
        sections = {**_sections_of(args.out.read_text()), **measured}
        order = [b.title for b in BENCHMARKS]
        sections = dict(sorted(sections.items(),
                               key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
        header = header.replace(f" on {started}", f" (sections re-run last on {started})")
    text = header + "\n".join(sections.values())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=args.out.parent, delete=False, suffix=".tmp") as fh:
        fh.write(text)
    os.replace(fh.name, args.out)


if __name__ == "__main__":
    main()
