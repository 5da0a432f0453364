from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from readerstudy.store.engine import StudyDB, open_db
from readerstudy.study.build import CaseRecord, build_from_records
from readerstudy.study.protocol import protocol_from_dict

READER_PASSWORDS = {"r1": "pw-r1", "r2": "pw-r2"}
COORDINATOR = ("coord", "pw-coord")


def case_records(n_cases: int) -> list[CaseRecord]:
    return [
        CaseRecord(
            "cases.csv",
            index + 2,
            {
                "case_id": f"case-{index}",
                "site": f"site-{index % 2}",
                "original_report": f"FINDINGS: Finding number {index}. IMPRESSION: Impression {index}.",
                "ai_report": f"Findings: finding {index} generated. Impression: summary {index}.",
                "normal_abnormal": "normal" if index % 2 else "abnormal",
            },
        )
        for index in range(n_cases)
    ]


@pytest.fixture(scope="session")
def _built_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, tuple[str, ...]], Path]:
    return {}


@pytest.fixture
def make_study(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, _built_templates: dict
) -> Callable[..., StudyDB]:
    """A fresh copy of a small built study (building hashes passwords, so each shape is built once per session)."""

    def _make(n_cases: int = 4, criteria: list[str] | None = None, name: str = "study.db") -> StudyDB:
        shape = (n_cases, tuple(criteria or ["diagnostic clarity"]))
        if shape not in _built_templates:
            _built_templates[shape] = _build(
                tmp_path_factory.mktemp("template") / "study.db", n_cases, criteria
            )
        target = tmp_path / name
        shutil.copyfile(_built_templates[shape], target)
        return open_db(target)

    return _make


def _build(path: Path, n_cases: int, criteria: list[str] | None) -> Path:
    protocol = protocol_from_dict(
        {
            "name": "Test study",
            "seed": "test-seed",
            "criteria": criteria or ["diagnostic clarity"],
            "readers": [{"id": r, "password": p} for r, p in READER_PASSWORDS.items()],
            "coordinators": [{"id": COORDINATOR[0], "password": COORDINATOR[1]}],
        }
    )
    build_from_records(case_records(n_cases), protocol, path)  # disposes its engine: WAL checkpointed
    return path


@pytest.fixture
def accounts() -> dict[str, str]:
    """Account id -> password of the studies made by ``make_study``."""
    return {**READER_PASSWORDS, COORDINATOR[0]: COORDINATOR[1]}
