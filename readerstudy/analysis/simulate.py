"""Synthetic reader studies with known reader and case effects (ordinal probit on a latent scale).

Model for reader r, case c (per criterion):

    L[r, c] = a_r + b_c + e_rc,  a_r ~ N(0, reader_sd^2),  b_c ~ N(0, case_sd^2),  e_rc ~ N(0, 1)
    AI worse if L < t1, equal if t1 <= L < t2, AI better if L >= t2.

With s^2 = 1 + reader_sd^2 + case_sd^2 the thresholds t2 = s Phi^-1(1 - p_better) and
t1 = s Phi^-1(p_worse) make the population (readers and cases random) probabilities exactly p_better,
p_equal, p_worse = 1 - p_better - p_equal, so the RRRC truth of net preference is p_better - p_worse.
Given the drawn readers (FRRC truth), P(better | a_r) = 1 - Phi((t2 - a_r) / sqrt(1 + case_sd^2)) and
P(worse | a_r) = Phi((t1 - a_r) / sqrt(1 + case_sd^2)), averaged over the study's readers.

`position_bias` is the probability that a would-be tie is instead resolved as "A" (the left report). The AI
side is randomised 50/50, so ties move to better and worse equally: net preference is unchanged and
P(equal) shrinks by that factor; the truths returned account for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

REXVAL_FLAGS = ("false finding", "missed finding", "wrong location", "wrong severity", "comparison issues")


@dataclass(frozen=True)
class SimulationTruth:
    """True endpoints of a simulated study (population and conditional on its readers)."""

    net_preference: float
    equal_or_better: float
    net_preference_given_readers: float
    equal_or_better_given_readers: float
    reader_effects: tuple[float, ...]


def _thresholds(p_better: float, p_equal: float, reader_sd: float, case_sd: float) -> tuple[float, float]:
    p_worse = 1.0 - p_better - p_equal
    if min(p_better, p_equal, p_worse) < 0:
        raise ValueError("p_better and p_equal must be >= 0 and sum to at most 1")
    scale = np.sqrt(1.0 + reader_sd**2 + case_sd**2)
    return float(scale * stats.norm.ppf(p_worse)), float(scale * stats.norm.ppf(1.0 - p_better))


def _truth(
    p_better: float,
    p_equal: float,
    reader_sd: float,
    case_sd: float,
    position_bias: float,
    readers: np.ndarray,
) -> SimulationTruth:
    t1, t2 = _thresholds(p_better, p_equal, reader_sd, case_sd)
    cond_scale = np.sqrt(1.0 + case_sd**2)
    better_r = stats.norm.sf((t2 - readers) / cond_scale)
    worse_r = stats.norm.cdf((t1 - readers) / cond_scale)
    equal_r = 1.0 - better_r - worse_r
    p_worse = 1.0 - p_better - p_equal
    return SimulationTruth(
        net_preference=p_better - p_worse,
        equal_or_better=p_better + p_equal * (1 - position_bias / 2),
        net_preference_given_readers=float(np.mean(better_r - worse_r)),
        equal_or_better_given_readers=float(np.mean(better_r + equal_r * (1 - position_bias / 2))),
        reader_effects=tuple(float(a) for a in readers),
    )


def _draw_effects(
    rng: np.random.Generator, n_readers: int, n_cases: int, reader_sd: float, case_sd: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    reader_effect = rng.normal(0.0, reader_sd, n_readers)
    case_effect = rng.normal(0.0, case_sd, n_cases)
    return reader_effect, case_effect, rng.normal(0.0, 1.0, (n_readers, n_cases))


def _categorise(latent: np.ndarray, t1: float, t2: float) -> np.ndarray:
    return np.where(latent >= t2, 1, np.where(latent < t1, -1, 0))


def simulate_preference_matrix(
    n_readers: int, n_cases: int, seed: int, p_better: float, p_equal: float, reader_sd: float, case_sd: float
) -> tuple[np.ndarray, SimulationTruth]:
    """Fast path: the readers x cases preference matrix (first criterion, no position bias) and its truth.

    Same draws as `simulate_study_with_truth` with the same seed, so the two agree read for read.
    """
    rng = np.random.default_rng(seed)
    t1, t2 = _thresholds(p_better, p_equal, reader_sd, case_sd)
    reader_effect, case_effect, noise = _draw_effects(rng, n_readers, n_cases, reader_sd, case_sd)
    pref = _categorise(reader_effect[:, None] + case_effect[None, :] + noise, t1, t2)
    return pref.astype(float), _truth(p_better, p_equal, reader_sd, case_sd, 0.0, reader_effect)


def simulate_study_with_truth(
    n_readers: int,
    n_cases: int,
    seed: int,
    p_better: float,
    p_equal: float,
    reader_sd: float,
    case_sd: float,
    n_sites: int = 4,
    *,
    criteria: tuple[str, ...] = ("diagnostic clarity",),
    position_bias: float = 0.0,
    blinding_accuracy: float = 0.5,
) -> tuple[pd.DataFrame, SimulationTruth]:
    """Simulate a complete study; return the long reads table and the truth for the first criterion."""
    rng = np.random.default_rng(seed)
    t1, t2 = _thresholds(p_better, p_equal, reader_sd, case_sd)
    readers = [f"reader_{j + 1:02d}" for j in range(n_readers)]
    cases = [f"case_{i + 1:04d}" for i in range(n_cases)]
    reader_effect, case_effect, first_noise = _draw_effects(rng, n_readers, n_cases, reader_sd, case_sd)
    sites = np.array([f"site_{(i % n_sites) + 1}" for i in range(n_cases)])
    normal_abnormal = np.where(rng.random(n_cases) < 0.5, "normal", "abnormal")
    ai_side = np.where(rng.random((n_readers, n_cases)) < 0.5, "A", "B")
    guess_correct = rng.random((n_readers, n_cases)) < blinding_accuracy
    guess = np.where(guess_correct, ai_side, np.where(ai_side == "A", "B", "A"))
    original_quality = 3.0 + 0.8 * case_effect[None, :] + rng.normal(0, 0.5, (n_readers, n_cases))
    start = pd.Timestamp("2025-01-06T09:00:00Z")
    frames = []
    for k, criterion in enumerate(criteria):
        noise = first_noise if k == 0 else rng.normal(0.0, 1.0, (n_readers, n_cases))
        pref = _categorise(reader_effect[:, None] + case_effect[None, :] + noise, t1, t2)
        to_left = (pref == 0) & (rng.random((n_readers, n_cases)) < position_bias)
        pref = np.where(to_left, np.where(ai_side == "A", 1, -1), pref)
        ai_choice = np.where(ai_side == "A", "A", "B")
        orig_choice = np.where(ai_side == "A", "B", "A")
        choice = np.where(pref == 1, ai_choice, np.where(pref == -1, orig_choice, "equal"))
        likert_original = np.clip(np.rint(original_quality), 1, 5).astype(int)
        likert_ai = np.clip(np.rint(original_quality + 0.8 * pref + rng.normal(0, 0.4, pref.shape)), 1, 5)
        flag_pick = rng.integers(0, len(REXVAL_FLAGS), pref.shape)
        has_flag = (pref == -1) & (rng.random(pref.shape) < 0.6)
        flags = np.where(has_flag, np.array(REXVAL_FLAGS)[flag_pick], "")
        significant = has_flag & (rng.random(pref.shape) < 0.3)
        shown = start + pd.to_timedelta(np.arange(n_readers * n_cases) * 90 + k * 20, unit="s")
        frames.append(
            pd.DataFrame(
                {
                    "reader_id": np.repeat(readers, n_cases),
                    "case_id": np.tile(cases, n_readers),
                    "site": np.tile(sites, n_readers),
                    "criterion": criterion,
                    "ai_side": ai_side.ravel(),
                    "choice": choice.ravel(),
                    "preference_vs_ai": pref.ravel().astype(int),
                    "likert_ai": pd.array(likert_ai.ravel().astype(int), dtype="Int64"),
                    "likert_original": pd.array(likert_original.ravel(), dtype="Int64"),
                    "error_flags": flags.ravel(),
                    "clinically_significant": significant.ravel(),
                    "reason": "",
                    "shown_at": shown.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "submitted_at": (shown + pd.Timedelta(seconds=75)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "version": 1,
                    "normal_abnormal": np.tile(normal_abnormal, n_readers),
                    "blinding_guess_ai_side": guess.ravel(),
                }
            )
        )
    truth = _truth(p_better, p_equal, reader_sd, case_sd, position_bias, reader_effect)
    return pd.concat(frames, ignore_index=True), truth


def simulate_study(
    n_readers: int,
    n_cases: int,
    seed: int,
    p_better: float,
    p_equal: float,
    reader_sd: float,
    case_sd: float,
    n_sites: int = 4,
    *,
    criteria: tuple[str, ...] = ("diagnostic clarity",),
    position_bias: float = 0.0,
    blinding_accuracy: float = 0.5,
) -> pd.DataFrame:
    """Long reads table of a simulated study; the truth is in `df.attrs["truth"]` (a SimulationTruth)."""
    df, truth = simulate_study_with_truth(
        n_readers,
        n_cases,
        seed,
        p_better,
        p_equal,
        reader_sd,
        case_sd,
        n_sites,
        criteria=criteria,
        position_bias=position_bias,
        blinding_accuracy=blinding_accuracy,
    )
    df.attrs["truth"] = truth
    return df
