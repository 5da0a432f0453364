"""METEOR 1.5 through the jar that pycocoevalcap ships, run once per corpus in ``-stdio`` mode.

Same command and protocol as pycocoevalcap's ``Meteor`` (``java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en
-norm``): one ``SCORE ||| ref1 ||| ... ||| hyp`` line per case returns that case's sufficient statistics, then one
``EVAL ||| stats1 ||| ...`` line returns every segment score followed by the corpus score. The corpus value is
the jar's aggregate over summed statistics (what pycocoevalcap returns), not the mean of segment scores.

Bootstrap replicates re-aggregate the per-case statistics in numpy (`meteor_aggregate`: the jar's summing rule and
scoring formula with the ``-l en`` parameters), which equals what the jar's ``EVAL`` -- and so pycocoevalcap on the
resampled lists -- returns, to within float rounding (tested to 1e-9). ``via_jar=True`` sends one ``EVAL`` line
per replicate to the jar instead (slow; kept to verify the numpy path).

Differences from pycocoevalcap's wrapper, only for inputs that break its line protocol: newlines and ``|||`` are
replaced by spaces in references as well as hypotheses (pycocoevalcap cleans only the hypothesis).
Without Java, or without the jar and its ``data/paraphrase-en.gz``, the result is "unavailable" with the reason;
no other METEOR implementation is substituted (NLTK's gives different numbers).
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from bench.metrics.report.meteor_aggregate import corpus_meteor, parse_stats
from bench.metrics.report.tokenize import tokenize

METEOR_ARGS = ("-jar", "-Xmx2G", "meteor-1.5.jar", "-", "-", "-stdio", "-l", "en", "-norm")


@dataclass(frozen=True)
class MeteorResult:
    """Corpus METEOR, per-case segment scores and the jar's per-case statistics (for `meteor_bootstrap`)."""

    value: float | None
    per_case: np.ndarray | None
    available: bool
    reason: str | None = None
    stats: tuple[str, ...] | None = None


def meteor_dir() -> Path | None:
    """Folder of pycocoevalcap's meteor-1.5.jar, or None when pycocoevalcap is not installed."""
    try:
        import pycocoevalcap.meteor.meteor as module  # pycocoevalcap.meteor is a namespace package
    except ImportError:
        return None
    return Path(module.__file__).resolve().parent


def unavailable_reason(java: str | None = None) -> str | None:
    """Why METEOR cannot run here (None when it can)."""
    if (java or shutil.which("java")) is None:
        return "java not found on PATH (METEOR 1.5 is a Java program); install a JRE to compute METEOR"
    folder = meteor_dir()
    if folder is None:
        return "pycocoevalcap is not installed (it ships meteor-1.5.jar)"
    for needed in ("meteor-1.5.jar", "data/paraphrase-en.gz"):
        if not (folder / needed).is_file():
            return f"{folder / needed} is missing from the pycocoevalcap install"
    return None


def _clean(text: str) -> str:
    text = " ".join(text.replace("|||", " ").split())
    return text


class MeteorJar:
    """One running METEOR process; use as a context manager. Every read waits at most `timeout_s`."""

    def __init__(
        self, timeout_s: float = 300.0, java: str | None = None, process: subprocess.Popen | None = None
    ) -> None:
        """Start the jar, or adopt `process`, an already running ``-stdio`` METEOR (e.g. pycocoevalcap's
        ``Meteor().meteor_p``, to load the 60 MB paraphrase table once); no one else may read its output."""
        if process is None:
            reason = unavailable_reason(java)
            if reason is not None:
                raise RuntimeError(reason)
            process = subprocess.Popen(
                [java or shutil.which("java") or "java", *METEOR_ARGS],
                cwd=str(meteor_dir()),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        if process.stdin is None or process.stdout is None or process.stderr is None:
            raise ValueError("the METEOR process needs stdin, stdout and stderr pipes (subprocess.PIPE)")
        self.timeout_s = timeout_s
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._proc = process
        self._stdin: IO[bytes] = process.stdin
        self._stderr_pipe: IO[bytes] = process.stderr
        threading.Thread(target=self._pump, args=(process.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _pump(self, stream: IO[bytes], sink: queue.Queue[str | None]) -> None:
        for raw in iter(stream.readline, b""):
            sink.put(raw.decode("utf-8", errors="replace").strip())
        sink.put(None)

    def _drain_stderr(self) -> None:
        for raw in iter(self._stderr_pipe.readline, b""):
            self._stderr.append(raw.decode("utf-8", errors="replace").rstrip())

    def _send(self, lines: Sequence[str]) -> None:
        self._stdin.write(("".join(line + "\n" for line in lines)).encode("utf-8"))
        self._stdin.flush()

    def _read(self, n: int) -> list[str]:
        out = []
        for _ in range(n):
            try:
                line = self._lines.get(timeout=self.timeout_s)
            except queue.Empty:
                raise TimeoutError(f"METEOR gave no output within {self.timeout_s:.0f} s") from None
            if line is None:
                tail = " | ".join(self._stderr[-5:])
                raise RuntimeError(f"METEOR exited early (code {self._proc.poll()}): {tail}")
            out.append(line)
        return out

    def stats(self, refs: Sequence[Sequence[str]], hyps: Sequence[str]) -> list[str]:
        """The jar's statistics line for every case."""
        lines = [
            " ||| ".join(("SCORE", *(_clean(r) for r in rs), _clean(h)))
            for rs, h in zip(refs, hyps, strict=True)
        ]
        self._send(lines)
        return self._read(len(lines))

    def evaluate(self, stats: Sequence[str]) -> tuple[list[float], float]:
        """Segment scores and the aggregate score of one EVAL over `stats`."""
        self._send(["EVAL ||| " + " ||| ".join(stats)])
        values = [float(x) for x in self._read(len(stats) + 1)]
        return values[:-1], values[-1]

    def evaluate_many(self, stat_sets: Sequence[Sequence[str]]) -> list[float]:
        """Aggregate score of each of several EVALs (sent together, read in order)."""
        self._send(["EVAL ||| " + " ||| ".join(s) for s in stat_sets])
        scores = []
        for s in stat_sets:
            scores.append(float(self._read(len(s) + 1)[-1]))
        return scores

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(OSError):
                self._stdin.close()
            self._proc.kill()
        self._proc.wait()

    def __enter__(self) -> MeteorJar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _prepare(refs: Sequence[str] | Sequence[Sequence[str]], hyps: Sequence[str], tokenize_first: bool):
    ref_lists = [[r] if isinstance(r, str) else list(r) for r in refs]
    if len(ref_lists) != len(hyps):
        raise ValueError(f"{len(ref_lists)} reference sets but {len(hyps)} hypotheses")
    if tokenize_first:
        hyps = [" ".join(t) for t in tokenize(hyps)]
        ref_lists = [[" ".join(t) for t in tokenize(rs)] for rs in ref_lists]
    return ref_lists, list(hyps)


def meteor(
    refs: Sequence[str] | Sequence[Sequence[str]],
    hyps: Sequence[str],
    *,
    tokenize_first: bool = True,
    timeout_s: float = 300.0,
    jar: MeteorJar | None = None,
) -> MeteorResult:
    """Corpus METEOR as pycocoevalcap's ``Meteor.compute_score`` (texts PTB-tokenised first, as COCOEvalCap does,
    unless `tokenize_first` is False). Returns ``available=False`` with a reason when Java or the jar is missing."""
    ref_lists, hyp_list = _prepare(refs, hyps, tokenize_first)
    if jar is None:
        reason = unavailable_reason()
        if reason is not None:
            return MeteorResult(None, None, available=False, reason=reason)
    if not hyp_list:
        return MeteorResult(None, None, available=True, reason="no cases")
    own = jar is None
    runner = jar or MeteorJar(timeout_s=timeout_s)
    try:
        stats = runner.stats(ref_lists, hyp_list)
        per_case, value = runner.evaluate(stats)
    finally:
        if own:
            runner.close()
    return MeteorResult(value, np.array(per_case), available=True, stats=tuple(stats))


def meteor_bootstrap(
    result: MeteorResult,
    counts: np.ndarray,
    *,
    timeout_s: float = 300.0,
    jar: MeteorJar | None = None,
    via_jar: bool = False,
) -> np.ndarray | None:
    """(B,) corpus METEOR of each replicate, case i counted counts[b, i] times; None when `result` is
    unavailable. Computed in numpy from `result.stats`; `via_jar` re-aggregates in the jar instead (one
    ``EVAL`` line per replicate, on `jar` or a new process with `timeout_s`), only to verify the numpy path."""
    if not result.available or result.stats is None:
        return None
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != len(result.stats):
        raise ValueError(f"counts must be (B, {len(result.stats)}), got {counts.shape}")
    if not via_jar:
        return corpus_meteor(parse_stats(result.stats), counts)
    stat_sets = [[s for s, m in zip(result.stats, row, strict=True) for _ in range(int(m))] for row in counts]
    own = jar is None
    runner = jar or MeteorJar(timeout_s=timeout_s)
    try:
        return np.array(runner.evaluate_many(stat_sets))
    finally:
        if own:
            runner.close()
