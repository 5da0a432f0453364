"""Per-reader case order and left/right placement, drawn from SHA-256 of (study seed, reader id, case id).

Hash-based, so the draw does not depend on a library's random-number stream; it is stored at build and never redrawn.
Placement is balanced exactly: half of each reader's cases (rounded by a hash bit) show the AI report on the left.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def ai_slot_for_case(seed: str, case_id: str) -> str:
    """Which storage slot ("x" or "y") holds the AI text, so that even the case table does not reveal it."""
    return "x" if _digest(seed, "slot", case_id)[0] & 1 else "y"


@dataclass(frozen=True)
class Placement:
    case_id: str
    order_index: int
    ai_left: bool


def draw_placements(seed: str, reader_id: str, case_ids: Sequence[str]) -> list[Placement]:
    """The reading order and AI-on-left flag of every case for one reader."""
    order = sorted(case_ids, key=lambda c: _digest(seed, reader_id, c, "order"))
    by_side_rank = sorted(case_ids, key=lambda c: _digest(seed, reader_id, c, "side"))
    half = len(case_ids) // 2
    ai_left = {case_id: rank < half for rank, case_id in enumerate(by_side_rank)}
    if len(case_ids) % 2:
        odd_one = by_side_rank[-1]
        ai_left[odd_one] = bool(_digest(seed, reader_id, "odd-side")[0] & 1)
    return [Placement(case_id, index, ai_left[case_id]) for index, case_id in enumerate(order)]
