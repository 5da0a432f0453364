"""Power and sample size (readers x cases) for the study's primary endpoint, net preference of AI vs original.

Method: Hillis, Obuchowski & Berbaum (2011), "Power estimation for multireader ROC methods: an updated and
unified approach", Acad Radiol 18:129-142 (and Hillis & Berbaum 2004, Acad Radiol 11:1260-1273), for the
Obuchowski-Rockette (OR) model that `readerstudy.analysis.mrmc` uses for the analysis.

Every read is itself a paired AI-vs-original comparison, so the OR model of the endpoint is the one-modality
model of `mrmc`: theta_r = mu + R_r + e_r with Var(R_r) = s2_R, Var(e_r) = Var_e, Cov(e_r, e_r') = Cov2. It is
exactly the model of the *difference* of two modalities in Hillis et al. (2011), with
s2_R = 2 Var(T*R), Var_e = 2 (Var - Cov1), Cov2 = 2 (Cov2 - Cov3) (`from_two_modality_or`). Case-sampling
terms scale as 1/K, so they are kept per case: case_var = K Var_e, case_cov = K Cov2 (Hillis 2011 writes
the same scaling as K*/K for a pilot of K* cases).

For J readers and K cases (Hillis 2011, eq. 10, with t = 2 modalities folded into the difference):

    den  = s2_R + (case_var + (J - 1) max(case_cov, 0)) / K           (J x Var(theta_hat))
    ncp  = (effect - null) sqrt(J / den)                               (F non-centrality = ncp^2)
    ddf  = den^2 / ((s2_R + (case_var - max(case_cov, 0)) / K)^2 / (J - 1))   (Hillis's ddf_H)

Readers random (RRRC): two-sided test, power = P(F(1, ddf; ncp^2) > F_{1-alpha}(1, ddf)); the
non-inferiority test of the analysis (lower bound of the two-sided 1 - alpha interval above -margin) is the
one-sided t test, power = P(t(ddf; ncp) > t_{1-alpha/2, ddf}). Readers fixed (FRRC): s2_R = 0 and the
reference is t with K - 1 df, as in the analysis (DBM fixed-reader df); Hillis 2011 (and RJafroc >= 2.0) use
the chi-square/normal limit instead (`fixed_reader_df="infinite"`).

From a pilot or completed study the components are the OR estimates of the analysis (`mean_endpoint_inference`):
Var_e, Cov2 and MS(R); s2_R = max(MS(R) - Var_e + max(Cov2, 0), 0) (Hillis 2011 eq. 9 for one difference).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np
import pandas as pd
from scipy import stats

from readerstudy.analysis.data import (
    complete_cases,
    primary_criterion,
    reader_case_matrix,
    validate_long_table,
)
from readerstudy.analysis.mrmc import MeanEndpointInference, mean_endpoint_inference, to_jsonable

Alternative = Literal["non-inferiority", "two-sided"]
Readers = Literal["random", "fixed"]


class PlannedTest(TypedDict):
    """The test a plan is made for: the keyword arguments `plan` passes on to `power` and `cases_needed`."""

    effect: float
    margin: float
    alternative: Alternative
    alpha: float


CITATION = (
    "Hillis SL, Obuchowski NA, Berbaum KS. Power estimation for multireader ROC methods: an updated and "
    "unified approach. Acad Radiol 2011;18(2):129-142"
)
DEFAULT_MAX_CASES = 100_000


@dataclass(frozen=True)
class VarianceComponents:
    """OR components of the per-reader net preference; the case terms per case (Var_e and Cov2 times K)."""

    reader_var: float
    case_var: float
    case_cov: float
    source: str
    pilot_readers: int | None = None
    pilot_cases: int | None = None
    pilot_value: float | None = None

    def __post_init__(self) -> None:
        for name in ("reader_var", "case_var", "case_cov"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"variance component {name} must be a finite number")
        if self.reader_var < 0 or self.case_var <= 0:
            raise ValueError("reader variance must be >= 0 and case variance > 0")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["reader_correlation"] = self.case_cov / self.case_var
        return to_jsonable(out)


def from_inference(inference: MeanEndpointInference, source: str) -> VarianceComponents:
    """Components from the analysis' OR estimates of a (pilot or completed) study."""
    ms_r, var_e, cov2 = inference.ms_reader, inference.var_case_error, inference.cov2
    if ms_r is None or var_e is None or cov2 is None:
        raise ValueError(f"{source}: needs at least 2 readers and 2 cases read by every reader")
    if var_e <= 0:
        raise ValueError(f"{source}: every read has the same score, so the case variance is 0")
    k = inference.n_cases
    return VarianceComponents(
        reader_var=max(ms_r - var_e + max(cov2, 0.0), 0.0),
        case_var=var_e * k,
        case_cov=cov2 * k,
        source=source,
        pilot_readers=inference.n_readers,
        pilot_cases=k,
        pilot_value=inference.value,
    )


def from_two_modality_or(
    var_tr: float, cov1: float, cov2: float, cov3: float, var: float, pilot_cases: int, source: str = "OR"
) -> VarianceComponents:
    """Components of a modality difference from published two-modality OR estimates (Hillis 2011 notation)."""
    return VarianceComponents(
        reader_var=2.0 * max(var_tr, 0.0),
        case_var=2.0 * (var - cov1) * pilot_cases,
        case_cov=2.0 * (cov2 - cov3) * pilot_cases,
        source=source,
        pilot_cases=pilot_cases,
    )


def from_stated(reader_sd: float, case_sd: float, reader_corr: float) -> VarianceComponents:
    """Stated values: SD of the true per-reader endpoint across readers, SD of one reader's case score
    (at most 1 for -1/0/+1 scores), correlation of two readers' scores on the same case."""
    if not -1.0 <= reader_corr <= 1.0:
        raise ValueError("--reader-corr must lie in [-1, 1]")
    if reader_sd < 0 or case_sd <= 0:
        raise ValueError("--reader-sd must be >= 0 and --case-sd > 0")
    return VarianceComponents(
        reader_var=reader_sd**2,
        case_var=case_sd**2,
        case_cov=reader_corr * case_sd**2,
        source="stated values",
    )


def components_from_reads(
    long_df: pd.DataFrame, protocol: Mapping[str, Any] | None, source: str
) -> VarianceComponents:
    """Components of the primary criterion's net preference, estimated exactly as the analysis does."""
    df = validate_long_table(long_df)
    criterion = primary_criterion(df, protocol)
    matrix, _ = complete_cases(reader_case_matrix(df[df["criterion"] == criterion], "preference_vs_ai"))
    return from_inference(mean_endpoint_inference(matrix.to_numpy(float)), f"{source} ({criterion})")


def components_from_analysis_json(path: Path) -> VarianceComponents:
    """Components from the `net_preference` block of a completed study's analysis.json."""
    try:
        block = json.loads(path.read_text(encoding="utf-8"))["net_preference"]
        inference = MeanEndpointInference(
            value=block.get("value"),
            ci95_frrc=None,
            ci95_rrrc=None,
            se_frrc=None,
            se_rrrc=None,
            df_frrc=None,
            df_rrrc=None,
            ms_reader=block.get("ms_reader"),
            var_case_error=block.get("var_case_error"),
            cov2=block.get("cov2"),
            n_readers=int(block["n_readers"]),
            n_cases=int(block["n_cases"]),
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: not an analysis.json with a net_preference block") from None
    return from_inference(inference, f"analysis {path.name}")


@dataclass(frozen=True)
class PowerResult:
    """Floats for one case count; arrays (one value per K) when `power` is given an array of case counts."""

    power: float | np.ndarray | None
    ncp: float | np.ndarray | None
    ddf: float | np.ndarray | None
    se: float | np.ndarray | None


def power(
    comp: VarianceComponents,
    n_readers: int,
    n_cases: int | np.ndarray,
    *,
    effect: float,
    margin: float = 0.0,
    alternative: Alternative = "non-inferiority",
    alpha: float = 0.05,
    readers: Readers = "random",
    fixed_reader_df: Literal["cases", "infinite"] = "cases",
) -> PowerResult:
    """Planned power of the analysis' test for J readers and K cases (K may be an array)."""
    k = np.asarray(n_cases, dtype=float)
    cov = max(comp.case_cov, 0.0)
    reader_var = comp.reader_var if readers == "random" else 0.0
    den = reader_var + (comp.case_var + (n_readers - 1) * cov) / k
    null = -abs(margin) if alternative == "non-inferiority" else 0.0
    ncp = (effect - null) * np.sqrt(n_readers / den)
    if readers == "random":
        if n_readers < 2:
            return PowerResult(None, None, None, None)
        denom_ms = reader_var + (comp.case_var - cov) / k
        with np.errstate(divide="ignore"):
            ddf = np.where(denom_ms > 0, den**2 * (n_readers - 1) / np.maximum(denom_ms, 1e-300) ** 2, np.inf)
    else:
        ddf = k - 1.0 if fixed_reader_df == "cases" else np.full_like(k, np.inf)
    result = _reference_power(ncp, ddf, alternative, alpha)
    se = np.sqrt(den / n_readers)
    if np.ndim(n_cases) == 0:
        return PowerResult(float(result), float(ncp), float(ddf), float(se))
    return PowerResult(result, ncp, ddf, se)


def _reference_power(ncp: np.ndarray, ddf: np.ndarray, alternative: Alternative, alpha: float) -> np.ndarray:
    ncp, ddf = np.broadcast_arrays(np.asarray(ncp, float), np.asarray(ddf, float))
    out = np.empty(ncp.shape)
    finite = np.isfinite(ddf)
    if alternative == "two-sided":
        lam = ncp**2
        out[finite] = stats.ncf.sf(stats.f.ppf(1 - alpha, 1, ddf[finite]), 1, ddf[finite], lam[finite])
        out[~finite] = stats.ncx2.sf(stats.chi2.ppf(1 - alpha, 1), 1, lam[~finite])
    else:
        out[finite] = stats.nct.sf(stats.t.ppf(1 - alpha / 2, ddf[finite]), ddf[finite], ncp[finite])
        out[~finite] = stats.norm.sf(stats.norm.ppf(1 - alpha / 2) - ncp[~finite])
    return out


def cases_needed(
    comp: VarianceComponents,
    n_readers: int,
    target: float,
    *,
    max_cases: int = DEFAULT_MAX_CASES,
    **test: Any,
) -> int | None:
    """Smallest K >= 2 with planned power >= target, or None when no K up to `max_cases` reaches it.

    Doubling until the power reaches the target, then every K of the last bracket (power rises with K in
    practice; the scan stays exact even where the falling ddf_H makes it flat).
    """
    if power(comp, n_readers, 2, **test).power is None:
        return None
    low, high = 2, 2
    while high < max_cases:
        reached = power(comp, n_readers, high, **test).power
        if reached is not None and reached >= target:
            break
        low, high = high, min(2 * high, max_cases)
    grid = np.arange(low, high + 1)
    powers = np.asarray(power(comp, n_readers, grid, **test).power)
    hits = np.flatnonzero(powers >= target)
    return int(grid[hits[0]]) if hits.size else None


def plan(
    comp: VarianceComponents,
    *,
    effect: float,
    margin: float,
    alternative: Alternative,
    alpha: float,
    target: float,
    readers_range: Sequence[int],
    cases_grid: Sequence[int],
    design: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The JSON plan: components, test, power of `design`, cases needed and a power grid per reader count."""
    test = PlannedTest(effect=effect, margin=margin, alternative=alternative, alpha=alpha)
    rows = []
    for j in readers_range:
        rows.append(
            {
                "readers": j,
                "cases_needed_readers_random": cases_needed(comp, j, target, **test, readers="random"),
                "cases_needed_readers_fixed": cases_needed(comp, j, target, **test, readers="fixed"),
                "power_readers_random": {
                    str(k): power(comp, j, k, **test, readers="random").power for k in cases_grid
                },
                "power_readers_fixed": {
                    str(k): power(comp, j, k, **test, readers="fixed").power for k in cases_grid
                },
            }
        )
    out: dict[str, Any] = {
        "endpoint": "net preference (primary criterion), AI vs original",
        "method": "Obuchowski-Rockette / Hillis: non-central F (t) with Hillis's denominator df",
        "citation": CITATION,
        "components": comp.to_json(),
        "test": {**test, "null_value": -abs(margin) if alternative == "non-inferiority" else 0.0},
        "target_power": target,
        "design": None,
        "table": rows,
    }
    if design is not None:
        j, k = design
        random_ = power(comp, j, k, **test, readers="random")
        fixed = power(comp, j, k, **test, readers="fixed")
        out["design"] = {
            "readers": j,
            "cases": k,
            "readers_random": asdict(random_),
            "readers_fixed": asdict(fixed),
            "cases_needed_readers_random": cases_needed(comp, j, target, **test, readers="random"),
            "cases_needed_readers_fixed": cases_needed(comp, j, target, **test, readers="fixed"),
        }
    return to_jsonable(out)


def _fmt_power(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.3f}"


def _fmt_cases(value: int | None) -> str:
    return "unreachable" if value is None else str(value)


def format_plan(result: Mapping[str, Any]) -> str:
    """Console text of a plan: components, test, the design's power and the table of alternatives."""
    comp, test = result["components"], result["test"]
    lines = [
        f"variance components from {comp['source']}: reader variance {comp['reader_var']:.5g}, "
        f"case variance {comp['case_var']:.5g}, inter-reader correlation {comp['reader_correlation']:.3f}",
    ]
    if comp.get("pilot_cases"):
        pilot = f"pilot: {comp['pilot_readers'] or '?'} readers x {comp['pilot_cases']} cases"
        if comp.get("pilot_value") is not None:
            pilot += f", observed net preference {comp['pilot_value']:.3f}"
        lines.append(pilot)
    if test["alternative"] == "non-inferiority":
        lines.append(
            f"test: non-inferiority, true net preference {test['effect']:g} vs margin {abs(test['margin']):g} "
            f"(lower bound of the {100 * (1 - test['alpha']):g}% CI above {test['null_value']:g})"
        )
    else:
        lines.append(f"test: two-sided, net preference {test['effect']:g} vs 0 at alpha {test['alpha']:g}")
    design = result.get("design")
    if design:
        lines.append(
            f"design {design['readers']} readers x {design['cases']} cases: power "
            f"{_fmt_power(design['readers_random']['power'])} (readers random), "
            f"{_fmt_power(design['readers_fixed']['power'])} (readers fixed)"
        )
    grid = list(result["table"][0]["power_readers_random"]) if result["table"] else []
    lines.append(
        f"\ncases needed for power {result['target_power']:g}, and power (readers random) at K cases:"
    )
    lines.append(f"{'readers':>7}  {'random':>11}  {'fixed':>11}  " + "  ".join(f"K={k:<5}" for k in grid))
    for row in result["table"]:
        powers = "  ".join(f"{_fmt_power(row['power_readers_random'][k]):<7}" for k in grid)
        lines.append(
            f"{row['readers']:>7}  {_fmt_cases(row['cases_needed_readers_random']):>11}  "
            f"{_fmt_cases(row['cases_needed_readers_fixed']):>11}  {powers}"
        )
    if any(row["cases_needed_readers_random"] is None for row in result["table"]):
        lines.append(
            f"unreachable: not reached with up to {DEFAULT_MAX_CASES} cases; with readers random the reader "
            "variance caps the power, so add readers"
        )
    lines.append(f"method: {result['method']}; {result['citation']}")
    return "\n".join(lines)
