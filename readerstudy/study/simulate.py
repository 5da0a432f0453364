"""Write a complete synthetic study into a database through the store API, with known reader and case effects.

Model (cumulative logit with crossed random effects): for reader r and case c the latent AI-vs-original preference is
``eta = beta + u_r + v_c`` with ``u_r ~ N(0, sd_reader)``, ``v_c ~ N(0, sd_case)``; the read is "AI better" with
probability ``logistic(eta - tau)``, "AI worse" with ``logistic(-eta - tau)``, "equal" otherwise. The true net
preference P(better) - P(worse), both for the drawn readers/cases and for the population, is returned and stored in
the protocol (key ``simulation``) so analyses can be checked against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.models import Assignment, Case, UnblindingKey
from readerstudy.store.reader_api import (
    REXVAL_ERROR_FLAGS,
    ReadAnswers,
    mark_shown,
    submit_blinding,
    submit_read,
)
from readerstudy.study.build import BuildResult, CaseRecord, build_from_records
from readerstudy.study.protocol import protocol_from_dict

SITES = ("north", "south", "east", "west")


@dataclass(frozen=True)
class SimulationParameters:
    beta: float = 0.3
    sd_reader: float = 0.3
    sd_case: float = 0.8
    tau: float = 0.8
    revise_probability: float = 0.05
    blinding_accuracy: float = 0.6


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def outcome_probabilities(eta: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """P(AI better), P(AI worse) for latent preference ``eta``."""
    return _logistic(eta - tau), _logistic(-eta - tau)


def population_net_preference(params: SimulationParameters, n_draws: int = 400_000, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    sd = np.hypot(params.sd_reader, params.sd_case)
    better, worse = outcome_probabilities(params.beta + rng.normal(0.0, sd, n_draws), params.tau)
    return float(np.mean(better - worse))


def _case_records(n_cases: int, rng: np.random.Generator) -> list[CaseRecord]:
    findings = [
        "Lungs are clear.",
        "Small left pleural effusion.",
        "Mild cardiomegaly.",
        "Right basal opacity.",
    ]
    records = []
    for index in range(n_cases):
        finding = findings[int(rng.integers(len(findings)))]
        abnormal = finding != findings[0]
        records.append(
            CaseRecord(
                "simulated",
                index + 1,
                {
                    "case_id": f"sim-{index:04d}",
                    "site": SITES[index % len(SITES)],
                    "original_report": f"FINDINGS: {finding} IMPRESSION: case {index}.",
                    "ai_report": f"FINDINGS: {finding} No pneumothorax. IMPRESSION: case {index}.",
                    "normal_abnormal": "abnormal" if abnormal else "normal",
                },
            )
        )
    return records


def simulate_into_db(
    db: str | Path, n_readers: int, n_cases: int, seed: int, params: SimulationParameters | None = None
) -> dict[str, Any]:
    """Build a synthetic study in ``db`` and submit every reader's reads; returns the simulation truth."""
    params = params or SimulationParameters()
    rng = np.random.default_rng(seed)
    reader_ids = [f"sim-r{k + 1}" for k in range(n_readers)]
    reader_effects = rng.normal(0.0, params.sd_reader, n_readers)
    case_effects = rng.normal(0.0, params.sd_case, n_cases)
    eta = params.beta + reader_effects[:, None] + case_effects[None, :]
    better, worse = outcome_probabilities(eta, params.tau)
    truth = {
        "parameters": asdict(params),
        "seed": seed,
        "true_net_preference_sample": float(np.mean(better - worse)),
        "true_equal_or_better_sample": float(np.mean(1.0 - worse)),
        "true_net_preference_population": population_net_preference(params, seed=seed),
        "reader_effects": dict(zip(reader_ids, reader_effects.round(6).tolist(), strict=True)),
    }
    protocol = protocol_from_dict(
        {
            "name": f"Simulated study (seed {seed})",
            "seed": seed,
            "readers": [{"id": r, "password": f"{r}-password"} for r in reader_ids],
            "coordinators": [{"id": "coordinator", "password": "coordinator-password"}],
            "simulation": truth,
        }
    )
    records = _case_records(n_cases, rng)
    # Simulated reads never look at the texts, which differ on purpose: the blinding audit is recorded, not enforced.
    result: BuildResult = build_from_records(records, protocol, db, allow_distinguishable=True)
    study_db = open_db(result.db_url)
    _submit_all(study_db, reader_ids, records, better, worse, params, rng)
    study_db.dispose()
    return truth


def _submit_all(
    study_db: StudyDB,
    reader_ids: list[str],
    records: list[CaseRecord],
    better: np.ndarray,
    worse: np.ndarray,
    params: SimulationParameters,
    rng: np.random.Generator,
) -> None:
    ai_side = _ai_sides(study_db)
    case_index = {str(r.values["case_id"]): i for i, r in enumerate(records)}
    for r, reader_id in enumerate(reader_ids):
        guesses: dict[int, str] = {}
        for order, case_id in sorted(ai_side[reader_id]["case_by_order"].items()):
            c = case_index[case_id]
            side = ai_side[reader_id]["side_by_order"][order]
            other = "B" if side == "A" else "A"
            n_versions = 2 if rng.random() < params.revise_probability else 1
            for _ in range(n_versions):
                u = rng.random()
                choice = side if u < better[r, c] else other if u < better[r, c] + worse[r, c] else "equal"
                likert_ai = int(
                    np.clip(round(3 + 2 * (better[r, c] - worse[r, c]) + rng.normal(0, 0.7)), 1, 5)
                )
                likert_other = int(np.clip(round(3 + rng.normal(0, 0.7)), 1, 5))
                flags = [f for f in REXVAL_ERROR_FLAGS if rng.random() < 0.05]
                answers = ReadAnswers(
                    choices={"diagnostic clarity": choice},
                    likert_a=likert_ai if side == "A" else likert_other,
                    likert_b=likert_other if side == "A" else likert_ai,
                    flags_a=flags if side == "A" else [],
                    flags_b=flags if side == "B" else [],
                    significant_a=bool(flags) and side == "A" and rng.random() < 0.5,
                    significant_b=bool(flags) and side == "B" and rng.random() < 0.5,
                    reason="simulated",
                )
                submit_read(study_db, reader_id, order, answers, mark_shown(study_db, reader_id, order))
            correct = rng.random() < params.blinding_accuracy
            guesses[order] = side if correct else ("B" if side == "A" else "A")
        submit_blinding(study_db, reader_id, guesses)


def _ai_sides(study_db: StudyDB) -> dict[str, dict[str, dict[int, str]]]:
    """Simulation is coordinator-side code, so it may read the unblinding key."""
    with study_db.reading() as session:
        rows = session.execute(
            select(
                Assignment.reader_id,
                Assignment.order_index,
                Assignment.left_slot,
                Case.case_id,
                UnblindingKey.ai_slot,
            )
            .join(Case, Case.case_idx == Assignment.case_idx)
            .join(UnblindingKey, UnblindingKey.case_idx == Assignment.case_idx)
        ).all()
    sides: dict[str, dict[str, dict[int, str]]] = {}
    for reader_id, order, left_slot, case_id, ai_slot in rows:
        entry = sides.setdefault(reader_id, {"case_by_order": {}, "side_by_order": {}})
        entry["case_by_order"][order] = case_id
        entry["side_by_order"][order] = "A" if left_slot == ai_slot else "B"
    return sides
