"""Replicate engine of `bench.metrics.calibration`: every statistic for many bootstrap replicates at once.

Each label's known cases are sorted by score once; a replicate is a vector of case multiplicities, bins become
ranges of the sorted cases (sums from prefix sums) and the logistic recalibration fits run as one vectorised
Newton-Raphson over the replicates. With integer multiplicities replicate b equals the statistics computed on the
rows np.repeat(arange(n), counts[b]) (tests/test_calibration.py checks it against scikit-learn and statsmodels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

BINNINGS = ("equal-width", "equal-mass")
DEFAULT_BINNING, DEFAULT_N_BINS = "equal-width", 10
LOGIT_CLIP = 1e-7
_BLOCK_BYTES = 12 * 2**20
# Newton stops after a step below _NEWTON_TOL (relative): convergence is quadratic, so what remains is
# ~_NEWTON_TOL^2, far below the 1e-9 tolerance of `leaderboards verify`.
_NEWTON_TOL, _NEWTON_MAX_ITER = 1e-7, 100
_MAX_ETA_STEP = 2.0
_UNIT = np.array([0.0, 1.0])  # perfect calibration: a = 0, b = 1


@dataclass(frozen=True)
class _Label:
    rows: np.ndarray  # known case rows, sorted by score (stable)
    p: np.ndarray
    y: np.ndarray
    x: np.ndarray  # logit of clipped p


def _prepare(y_true: np.ndarray, y_score: np.ndarray, j: int) -> _Label:
    rows = np.flatnonzero(~np.isnan(y_true[:, j]))
    order = np.argsort(y_score[rows, j], kind="stable")
    rows = rows[order]
    p = y_score[rows, j]
    clipped = np.clip(p, LOGIT_CLIP, 1.0 - LOGIT_CLIP)
    return _Label(rows, p, y_true[rows, j], np.log(clipped) - np.log1p(-clipped))


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's own linear interpolation (np.percentile 'linear'), so edges tie with scores the same way."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _edges(label: _Label, cum_w: np.ndarray, binning: str, n_bins: int) -> np.ndarray:
    """(B, n_bins - 1) inner bin edges per replicate, as calibration_curve computes them on the resample."""
    n_rep = cum_w.shape[0]
    if binning == "equal-width":
        return np.broadcast_to(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], (n_rep, n_bins - 1))
    quantiles = np.linspace(0, 1, n_bins + 1) * 100 / 100  # as np.percentile(q * 100) divides back
    edges = np.empty((n_rep, n_bins + 1))
    for b in range(n_rep):
        total = cum_w[b, -1]
        virtual = (total - 1) * quantiles
        prev = np.floor(virtual)
        top = virtual >= total - 1
        lo = np.where(top, total - 1, prev).astype(np.int64)
        hi = np.where(top, total - 1, prev + 1).astype(np.int64)
        # value at expanded index k: the first sorted case whose cumulative weight exceeds k
        a = label.p[np.searchsorted(cum_w[b], lo, side="right") - 1]
        c = label.p[np.searchsorted(cum_w[b], hi, side="right") - 1]
        edges[b] = _lerp(a, c, virtual - prev)
    return edges[:, 1:-1]


def _bin_sums(cum: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """(B, n_bins) sums over sorted-case ranges [bounds[k], bounds[k+1]) from (B, m+1) prefix sums."""
    ends = np.take_along_axis(cum, bounds, axis=1)
    return np.diff(ends, axis=1)


def _prefix(values: np.ndarray) -> np.ndarray:
    out = np.zeros((values.shape[0], values.shape[1] + 1), dtype=values.dtype)
    np.cumsum(values, axis=1, out=out[:, 1:])
    return out


def _bounds(label: _Label, inner: np.ndarray) -> np.ndarray:
    """(B, n_bins + 1) sorted-case positions of the bin boundaries (scores <= edge stay below)."""
    m = label.p.size
    inside = np.searchsorted(label.p, inner, side="right")
    zeros, full = np.zeros((inner.shape[0], 1), np.int64), np.full((inner.shape[0], 1), m, np.int64)
    return np.hstack([zeros, inside, full])


def _first_reaching(cum: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per row, the first sorted-case index whose prefix sum (leading 0 dropped) reaches `level`."""
    return np.argmax(cum[:, 1:] >= level[:, None], axis=1)


def _overlap(label: _Label, cum_w: np.ndarray, cum_wy: np.ndarray) -> np.ndarray:
    """Replicates where positives and negatives overlap on logit(p) (x is sorted), so a slope MLE exists."""
    cum_wn = cum_w - cum_wy
    n_pos, n_neg = cum_wy[:, -1], cum_wn[:, -1]
    both = (n_pos > 0) & (n_neg > 0)
    one = np.ones_like(n_pos)
    pos_min, pos_max = label.x[_first_reaching(cum_wy, one)], label.x[_first_reaching(cum_wy, n_pos)]
    neg_min, neg_max = label.x[_first_reaching(cum_wn, one)], label.x[_first_reaching(cum_wn, n_neg)]
    return both & (pos_min < neg_max) & (neg_min < pos_max)


def _logistic_fit(
    label: _Label, w: np.ndarray, defined: np.ndarray, with_slope: bool, start: np.ndarray
) -> np.ndarray:
    """(B, 2) MLE (a, b) per replicate (rows of case weights `w`) by Newton-Raphson from `start`; b stays 1
    (offset) without slope. NaN where not `defined` or where Newton does not converge.

    Each row stops moving once its own step is below tolerance, so a row's result never depends on the other
    replicates of its block.
    """
    x, y = label.x, label.y
    # sums of w mu times [1, x, x^2] give the slope model's gradient and information; [1] the intercept's
    design = np.column_stack([np.ones_like(x), x, x * x]) if with_slope else np.ones((x.size, 1))
    target = (w * y) @ design[:, :2]  # sum w y [1, x]
    params = np.tile(start, (w.shape[0], 1))
    active = defined.copy()
    converged = ~defined
    eta = np.empty_like(w)
    # At the common start mu is one vector, so the first iteration is a single product with w.
    mu_start = special.expit(start[0] + start[1] * x)
    start_columns = np.hstack([mu_start[:, None] * design, (mu_start * mu_start)[:, None] * design])
    for iteration in range(_NEWTON_MAX_ITER):
        if not active.any():
            break
        if iteration == 0:
            sums = w @ start_columns
            first, second = sums[:, : design.shape[1]], sums[:, design.shape[1] :]
        else:
            np.multiply(params[:, 1:], x, out=eta)
            eta += params[:, :1]
            special.expit(eta, out=eta)  # mu
            w_mu = w * eta
            first, second = w_mu @ design, (w_mu * eta) @ design
        info = first - second  # sum w mu (1 - mu) [1, x, x^2]; `first` = sum w mu [1, x, x^2]
        g_a = target[:, 0] - first[:, 0]
        if with_slope:
            g_b = target[:, 1] - first[:, 1]
            det = info[:, 0] * info[:, 2] - info[:, 1] ** 2
            step = np.column_stack(
                [(info[:, 2] * g_a - info[:, 1] * g_b) / det, (info[:, 0] * g_b - info[:, 1] * g_a) / det]
            )
        else:
            step = np.column_stack([g_a / info[:, 0], np.zeros_like(g_a)])
        with np.errstate(invalid="ignore"):
            step[~active] = 0.0
            # Damping: no linear predictor moves by more than _MAX_ETA_STEP in one step (the extreme x are
            # the ends of the sorted x), which keeps Newton from overshooting on high-leverage scores.
            eta_move = np.maximum(
                np.abs(step[:, 0] + step[:, 1] * x[0]), np.abs(step[:, 0] + step[:, 1] * x[-1])
            )
            step *= np.minimum(1.0, _MAX_ETA_STEP / np.maximum(eta_move, 1e-300))[:, None]
            params += step
            small = np.abs(step).max(1) <= _NEWTON_TOL * (1.0 + np.abs(params).max(1))
        finite = np.isfinite(params).all(1)
        converged |= active & small & finite
        active &= ~small & finite
    params[~(converged & defined)] = np.nan
    return params


def _finite_or_unit(start: np.ndarray) -> np.ndarray:
    return start if np.isfinite(start).all() else _UNIT


def _label_statistics(
    label: _Label,
    counts: np.ndarray,
    binning: str,
    n_bins: int,
    fixed_inner: np.ndarray,
    starts: tuple[np.ndarray, np.ndarray] | None,
) -> dict[str, np.ndarray]:
    """Per replicate (rows of counts, (B, n)): the four metrics and the reliability bins' statistics; with
    `starts` None the logistic refits are skipped (slope and intercept NaN: Brier and ECE alone are wanted)."""
    w_int = counts[:, label.rows].astype(np.int64)
    w = w_int.astype(np.float64)
    cum_w = _prefix(w_int)
    cum_wy = _prefix(w_int * label.y.astype(np.int64))
    cum_wp = _prefix(w * label.p)
    total = cum_w[:, -1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        brier = (w @ (label.p - label.y) ** 2) / total
        bounds = _bounds(label, _edges(label, cum_w, binning, n_bins))
        gap = np.abs(_bin_sums(cum_wy, bounds) - _bin_sums(cum_wp, bounds))
        ece = gap.sum(1) / total
        fixed = _bounds(label, np.broadcast_to(fixed_inner, (w.shape[0], fixed_inner.size)))
        bin_n = _bin_sums(cum_w, fixed).astype(np.float64)
        observed = _bin_sums(cum_wy, fixed) / bin_n
        predicted = _bin_sums(cum_wp, fixed) / bin_n
    both = (cum_wy[:, -1] > 0) & (cum_wy[:, -1] < cum_w[:, -1])
    if starts is None:
        fit_slope = fit_intercept = np.full((w.shape[0], 2), np.nan)
    else:
        fit_slope = _logistic_fit(label, w, _overlap(label, cum_w, cum_wy), True, starts[0])
        fit_intercept = _logistic_fit(label, w, both, False, starts[1])
    return {
        "brier": brier,
        "ece": ece,
        "calibration_slope": fit_slope[:, 1],
        "calibration_intercept": fit_intercept[:, 0],
        "fit_slope": fit_slope,
        "fit_intercept": fit_intercept,
        "bin_count": bin_n,
        "bin_observed": observed,
        "bin_predicted": predicted,
    }


def calibration_replicates(
    y_true: np.ndarray,
    y_score: np.ndarray,
    counts: np.ndarray,
    binning: str = DEFAULT_BINNING,
    n_bins: int = DEFAULT_N_BINS,
    *,
    fits: bool = True,
) -> list[dict[str, np.ndarray] | None]:
    """Per label, the statistics of every replicate of `counts` ((B, n) case multiplicities); replicate b
    equals the statistics of the rows np.repeat(arange(n), counts[b]). None for labels without known cases.
    `fits=False` skips the logistic refits of slope and intercept (NaN), which cost far more than Brier and ECE."""
    if binning not in BINNINGS:
        raise ValueError(f"binning {binning!r}: choose one of {', '.join(BINNINGS)}")
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    y_true, y_score = as_2d(y_true), as_2d(y_score)
    out: list[dict[str, np.ndarray] | None] = []
    for j in range(y_true.shape[1]):
        label = _prepare(y_true, y_score, j)
        if label.rows.size == 0:
            out.append(None)
            continue
        fixed_inner = _edges(label, _prefix(np.ones((1, label.rows.size), np.int64)), binning, n_bins)[0]
        # Newton starts at the full sample's estimates (a, b), else at perfect calibration (0, 1).
        starts: tuple[np.ndarray, np.ndarray] | None = None
        if fits:
            ones = np.ones((1, y_true.shape[0]), np.int64)
            full = _label_statistics(label, ones, binning, n_bins, fixed_inner, (_UNIT, _UNIT))
            slope_start = np.array([full["fit_slope"][0, 0], full["fit_slope"][0, 1]])
            intercept_start = np.array([full["fit_intercept"][0, 0], 1.0])
            starts = (_finite_or_unit(slope_start), _finite_or_unit(intercept_start))
        block = max(1, _BLOCK_BYTES // (8 * label.rows.size))
        parts = [
            _label_statistics(label, counts[b0 : b0 + block], binning, n_bins, fixed_inner, starts)
            for b0 in range(0, counts.shape[0], block)
        ]
        stats = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        stats["bin_edges"] = np.concatenate([[0.0], fixed_inner, [1.0]])
        out.append(stats)
    return out


def as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x
