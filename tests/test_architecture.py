"""The architecture, checked: the public names, one-way layering and no import cycles.

Every import in the three packages is read from the source (module level and inside functions,
but not ``if TYPE_CHECKING:`` blocks, which never run). ``estimators`` must not import
``sampling`` or ``equisample``; ``sampling`` must not import ``equisample``; and the module graph has
no cycle. Names are imported by module path, never by string.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import equisample
import estimators
import sampling

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("equisample", "estimators", "sampling")

ESTIMATORS_PUBLIC = [
    "AggregationResult", "BalanceResult", "ColumnError", "ConvergenceError", "ConvergenceWarning",
    "DataWarning", "DesignError", "EquisampleError", "EquisampleWarning", "Estimate",
    "ExtrapolationWarning",
    "InfeasibleError", "JuryPolicy", "MarginError", "PrismData", "ReferenceWeightingResult",
    "ReplicateDesign", "RepresentativenessResult",
    "StrengthModelResult", "SurveyDesign", "UtilityTable", "ValidationError", "WeightingResult",
    "WelfareResult", "WhoDecidesResult", "adjust_to_reference", "aggregate",
    "answer_distribution", "bradley_terry", "calibrate", "choice_sets", "contrast",
    "covariate_balance", "datasets", "load_prism", "mean", "pairwise_battles", "plackett_luce",
    "poststratify", "proportion", "proportion_interval", "quantile", "rake", "ratio",
    "read_prism_table", "replicate_design", "replicate_estimate", "representativeness", "total",
    "trim", "utility_table", "utterances_from_conversations", "variance", "welfare", "who_decides",
]
SAMPLING_PUBLIC = [
    "SYNTHETIC_OPTIONS", "AdaptiveAllocator", "AdaptivePolicy", "AllocationPlan",
    "AllocationPolicy", "Batch", "ConveniencePolicy", "Decision", "Draw", "EqualPolicy",
    "Evaluation", "GaussianRatings", "LearningCurves", "LewisWeights", "Policy", "PolicyContext",
    "PolicySimulation", "ProportionalPolicy", "QuotaPlan", "QuotaPolicy", "QuotaTracker",
    "SensitivityPolicy", "SimpleRandomPolicy", "StratumAllocation", "Subset", "alabama_paradox",
    "allocate", "apportion", "bethel_allocation", "controlled_round", "design_quotas",
    "fit_learning_curves", "inclusion_probabilities_for", "leverage_scores", "lewis_weights",
    "lp_sensitivities", "mixed_scores", "neyman_allocation", "policy_context",
    "root_leverage_scores", "sensitivity_sample", "simulate_policies", "synthetic_population",
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            files[_module_name(path)] = path
    return files


MODULES = _sources()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _package_of(module: str) -> str:
    return module if (MODULES.get(module) and MODULES[module].name == "__init__.py") else \
        module.rpartition(".")[0]


def _imports(module: str) -> set[str]:
    """Project modules that ``module`` imports at run time (resolved to module names)."""
    tree = ast.parse(MODULES[module].read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = _package_of(module).split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] in PACKAGES:
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    folder = ROOT.joinpath(*base.split("."))
                    compiled = any(folder.glob(f"{alias.name}.*.so")) or (folder / f"{alias.name}.c").exists()
                    found.add(candidate if candidate in MODULES or compiled else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def test_public_names_are_unchanged():
    assert sorted(estimators.__all__) == sorted(ESTIMATORS_PUBLIC)
    assert sorted(sampling.__all__) == sorted(SAMPLING_PUBLIC)
    for package in (estimators, sampling):
        for name in package.__all__:
            assert hasattr(package, name), name


def test_equisample_reexports_both_layers():
    for name in [*ESTIMATORS_PUBLIC, *SAMPLING_PUBLIC]:
        assert hasattr(equisample, name), name
    assert equisample.rake is estimators.rake
    assert equisample.allocate is sampling.allocate
    assert equisample.errors.EquisampleError is estimators.errors.EquisampleError


@pytest.mark.parametrize("package", ["estimators", "sampling"])
def test_subpackages_only_reexport(package):
    """A family's ``__init__`` imports and lists names; it defines nothing itself."""
    for module, path in MODULES.items():
        if module.startswith(f"{package}.") and path.name == "__init__.py":
            tree = ast.parse(path.read_text())
            defined = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
            assert not defined, f"{module} defines {[n.name for n in defined]}"


LAZY_LOADER = {"_family", "__getattr__", "__dir__", "_Package"}


@pytest.mark.parametrize("package", ["estimators", "sampling", "equisample"])
def test_packages_define_only_their_lazy_loader(package):
    """A package's ``__init__`` holds the names and the loader that imports a family on first use."""
    tree = ast.parse(MODULES[package].read_text())
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert defined <= LAZY_LOADER, defined - LAZY_LOADER


def _fresh_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    return result.stdout.strip()


def test_import_loads_no_heavy_module():
    loaded = _fresh_python(
        "import sys, equisample, estimators, sampling; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'pandas', 'scipy', 'statsmodels', 'cvxpy', 'matplotlib'}))")
    assert loaded == "[]"


@pytest.mark.parametrize("first", [
    "from estimators.welfare import aggregate",
    "import sampling; sampling.simulate_policies",
    "import estimators.welfare",
    "import equisample; equisample.who_decides",
])
def test_welfare_stays_the_function_whatever_loads_first(first):
    """The welfare family shares its name with its main function; the function wins."""
    out = _fresh_python(f"{first}\nimport estimators, equisample\n"
                        "print(estimators.welfare.__name__, equisample.welfare is estimators.welfare, "
                        "callable(estimators.welfare))")
    assert out == "welfare True True"


def test_layering_is_one_way():
    for module, imported in GRAPH.items():
        if module.startswith("estimators"):
            wrong = sorted(i for i in imported if i.split(".")[0] in ("sampling", "equisample"))
            assert not wrong, f"{module} imports {wrong}"
        if module.startswith("sampling"):
            wrong = sorted(i for i in imported if i.startswith("equisample"))
            assert not wrong, f"{module} imports {wrong}"


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if target not in GRAPH:
                continue
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target):], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_no_string_imports():
    for module, path in MODULES.items():
        text = path.read_text()
        assert "import_module(" not in text and "__import__(" not in text, module
