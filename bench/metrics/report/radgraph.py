"""RadGraph F1 (F1RadGraph, reward levels simple / partial / complete) with a local RadGraph model folder.

Typical use::

    scorer = RadGraphScorer.load(model_dir, device="cpu")       # nothing is downloaded
    result = scorer.f1(refs, hyps)                             # per_case (n, 3), means, conventions, notes
    combined = scorer.combined(refs, hyps)                     # RadCliQ-v1's radgraph_combined per report

The numbers are those of the `radgraph` package's `F1RadGraph(reward_level="all")` on the same weights (see
`radgraph_rewards` for the definitions and their sources, `radgraph_infer` for the inference and long reports).
Reference graphs are cached on disk per corpus, keyed by the model's fingerprint and the texts' hashes
(`<cache>/radgraph/<model>/<corpus>.json`, cache = bench.cache.cache_root()), so a table of many
models over one test set runs the references once; hypotheses are cached in memory only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bench.cache import cache_root
from bench.metrics.report.radgraph_model import RadGraphFolder, RadGraphFolderError, read_folder
from bench.metrics.report.radgraph_rewards import REWARD_LEVELS, radgraph_combined, radgraph_rewards

RADGRAPH_KEYS = tuple(f"radgraph_f1_{level}" for level in REWARD_LEVELS)
REWARD_DEFINITIONS = {
    "simple": "F1 of the sets {(entity tokens, label)} (radgraph 0.1.18 rewards.exact_entity_token_match_reward)",
    "partial": "F1 of {(tokens, label)} for entities without relations and {(tokens, label, True)} for entities "
    "with one or more (rewards.exact_entity_token_if_rel_exists_reward)",
    "complete": "F1 of {(tokens, label)} for entities without relations and {(tokens.lower(), label, relation, "
    "object tokens.lower())} per relation (rewards.exact_entity_token_if_all_match_reward)",
    "empty": "0 at every level when the generated or the reference report is the empty string, or when either "
    "graph has no entity (F1RadGraph.forward, rewards.compute_reward); a report of whitespace only, on which "
    "the package fails, has an empty graph and so scores 0",
    "mean": "corpus value = mean of the per-report rewards (F1RadGraph mean_reward)",
}

__all__ = [
    "RADGRAPH_KEYS",
    "RadGraphF1",
    "RadGraphFolderError",
    "RadGraphScorer",
    "radgraph_combined",
    "radgraph_rewards",
]


def default_cache_dir() -> Path:
    return cache_root()  # bench.cache: $CXRBENCH_CACHE_DIR, else the user's cache


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class RadGraphF1:
    per_case: np.ndarray  # (n, 3): simple, partial, complete
    conventions: dict[str, Any]
    notes: dict[str, Any] = field(default_factory=dict)

    def means(self) -> dict[str, float]:
        if self.per_case.shape[0] == 0:
            return dict.fromkeys(RADGRAPH_KEYS, float("nan"))
        return {key: float(self.per_case[:, k].mean()) for k, key in enumerate(RADGRAPH_KEYS)}


@lru_cache(maxsize=4)
def _load(path: str, mtime: float, device: str, batch_size: int) -> Any:
    from bench.metrics.report.radgraph_infer import GraphExtractor
    from bench.metrics.report.radgraph_model import RadGraphNet

    return GraphExtractor(RadGraphNet(read_folder(path)), device=device, batch_size=batch_size)


class RadGraphScorer:
    """A loaded RadGraph model with its graph caches."""

    def __init__(self, extractor: Any, cache_dir: str | Path | None = None) -> None:
        self.extractor = extractor
        self.folder: RadGraphFolder = extractor.net.folder
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._memory: dict[str, dict[str, Any]] = {}
        self.graphs_run = 0
        self.reference_graphs_from_cache = 0

    @classmethod
    def load(
        cls,
        model_dir: str | os.PathLike[str] | None,
        *,
        device: str = "cpu",
        batch_size: int = 16,
        cache_dir: str | Path | None = None,
    ) -> RadGraphScorer:
        if model_dir is None or not Path(model_dir).is_dir():
            raise RadGraphFolderError(
                f"RadGraph model folder {None if model_dir is None else str(model_dir)!r} not found: pass --radgraph "
                "DIR (a local RadGraph model folder with config.json, vocabulary/ and weights.th)"
            )
        weights = Path(model_dir) / "weights.th"
        mtime = weights.stat().st_mtime if weights.is_file() else 0.0
        return cls(_load(str(Path(model_dir).resolve()), mtime, device, batch_size), cache_dir)

    def graphs(
        self,
        texts: Sequence[str],
        *,
        names: Sequence[str] | None = None,
        cache_corpus: bool = False,
        progress: bool = False,
    ) -> list[dict[str, Any]]:
        """One graph per text; with `cache_corpus` the corpus's graphs are read from / written to the disk cache.
        An empty text is read as "None", as the package's `RadGraph.forward` does."""
        texts = [t if t else "None" for t in texts]
        keys = [_text_hash(t) for t in texts]
        corpus_file = None
        if cache_corpus:
            corpus = hashlib.sha256("\n".join(sorted(set(keys))).encode()).hexdigest()
            corpus_file = self.cache_dir / "radgraph" / self.folder.fingerprint[:32] / f"{corpus[:32]}.json"
            try:
                stored = json.loads(corpus_file.read_text(encoding="utf-8"))
                if stored.get("model") == self.folder.fingerprint:
                    found = {k: g for k, g in stored["graphs"].items() if k in set(keys)}
                    self.reference_graphs_from_cache += len(found)
                    self._memory.update(found)
            except (OSError, ValueError, KeyError, AttributeError):
                pass
        todo = [i for i, k in enumerate(keys) if k not in self._memory]
        first: dict[str, int] = {}
        for i in todo:
            first.setdefault(keys[i], i)
        order = list(first.values())
        if order:
            bar = _progress(len(order)) if progress else None
            computed = self.extractor(
                [texts[i] for i in order],
                names=None if names is None else [names[i] for i in order],
                progress=None if bar is None else bar.advance,
            )
            if bar is not None:
                bar.close()
            self.graphs_run += len(order)
            self._memory.update({keys[i]: g for i, g in zip(order, computed, strict=True)})
            if corpus_file is not None:
                self._store(corpus_file, keys)
        return [self._memory[k] for k in keys]

    def _store(self, corpus_file: Path, keys: list[str]) -> None:
        from bench.records import atomic_write_text

        body = {"model": self.folder.fingerprint, "graphs": {k: self._memory[k] for k in dict.fromkeys(keys)}}
        try:
            corpus_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(corpus_file, json.dumps(body, ensure_ascii=False) + "\n")
        except OSError:
            pass  # a read-only cache only costs time

    def f1(
        self,
        refs: Sequence[str],
        hyps: Sequence[str],
        *,
        names: Sequence[str] | None = None,
        progress: bool = False,
    ) -> RadGraphF1:
        """Per-report (simple, partial, complete) rewards as F1RadGraph(reward_level="all")."""
        if len(refs) != len(hyps):
            raise ValueError(f"{len(refs)} references but {len(hyps)} generated reports")
        scored = [i for i in range(len(refs)) if len(refs[i]) and len(hyps[i])]
        picked = None if names is None else [names[i] for i in scored]
        ref_graphs = self.graphs(
            [refs[i] for i in scored], names=picked, cache_corpus=True, progress=progress
        )
        hyp_graphs = self.graphs([hyps[i] for i in scored], names=picked, progress=progress)
        per_case = np.zeros((len(refs), 3))
        for i, ref, hyp in zip(scored, ref_graphs, hyp_graphs, strict=True):
            per_case[i] = radgraph_rewards(hyp, ref)
        notes = {
            "empty_pairs_scored_zero": len(refs) - len(scored),
            "split_reports": sum(self.extractor.is_split(t) for i in scored for t in (refs[i], hyps[i])),
            "reference_graphs_from_cache": self.reference_graphs_from_cache,
        }
        return RadGraphF1(per_case, self.conventions(), notes)

    def combined(
        self, refs: Sequence[str], hyps: Sequence[str], *, names: Sequence[str] | None = None
    ) -> np.ndarray:
        """RadCliQ-v1's per-report `radgraph_combined` (n,) (meant for the RadGraph v1 model: dataset "radgraph").
        An empty report has no graph (CXR-Report-Metric drops empty CSV cells), which scores 0."""
        if len(refs) != len(hyps):
            raise ValueError(f"{len(refs)} references but {len(hyps)} generated reports")
        from bench.metrics.report.radgraph_infer import empty_graph

        ref_graphs = self.graphs(list(refs), names=names, cache_corpus=True)
        hyp_graphs = self.graphs(list(hyps), names=names)
        return np.array(
            [
                radgraph_combined(h, r) if ref and hyp else radgraph_combined(empty_graph(), empty_graph())
                for h, r, ref, hyp in zip(hyp_graphs, ref_graphs, refs, hyps, strict=True)
            ],
            dtype=np.float64,
        )

    def conventions(self) -> dict[str, Any]:
        folder = self.folder
        return {
            "model_path": str(folder.path),
            "model_sha256": folder.fingerprint,
            "model_files_sha256": dict(folder.files),
            "model_type": folder.dataset,
            "transformer": folder.transformer_name,
            "entity_labels": list(folder.entity_labels[1:]),
            "relation_labels": list(folder.relation_labels),
            "tokenizer": "regex split around / , - : . ! ? ( ) (radgraph v1)"
            if folder.dataset == "radgraph"
            else "radgraph_xl_preprocess_report (nltk wordpunct_tokenize and fixes)",
            "wordpieces": f"{folder.transformer_name} tokenizer per word, word vector = mean of its wordpieces",
            "max_span_width": folder.max_span_width,
            "long_reports": (
                f"split into segments of {folder.max_length} wordpieces (special tokens included) as the reference's "
                "AllenNLP indexer does; not truncated"
                if folder.max_length is not None
                else "no max_length in the config: a report longer than the transformer is an error"
            ),
            "reward_levels": REWARD_DEFINITIONS,
            "reference": "radgraph 0.1.18 F1RadGraph(reward_level='all'), reimplemented in cxrbench",
            "device": str(self.extractor.device),
            "batch_size": self.extractor.batch_size,
        }


class _progress:  # noqa: N801 - used like a function
    """A stderr progress bar over reports (rich)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self._bar = Progress(console=Console(stderr=True), transient=True)
        self._bar.start()
        self._task = self._bar.add_task("RadGraph", total=total)

    def advance(self, k: int) -> None:
        self._bar.advance(self._task, k)

    def close(self) -> None:
        self._bar.stop()
