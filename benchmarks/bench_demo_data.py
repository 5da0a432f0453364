"""Time the embedded demo generator (all ten datasets) and the adapters reading it back.

There is no reference tool for this step; the check is that every adapter reads what the generator wrote and
that two runs with the same seed give byte-identical folders.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from bench.datasets import get_adapter
from bench.datasets.demo import write_demo


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=None, help="images per dataset (default: the demo's own)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--per-dataset", action="store_true", help="also time each dataset alone, in one process (serial)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = write_demo(Path(tmp) / "a", n=args.n, seed=args.seed, workers=args.workers)
        generate = time.perf_counter() - start
        print(
            f"| step | dataset | images | seconds |\n|---|---|---|---|\n| generate | all ten | | {generate:.1f} |"
        )
        for name, root in paths.items():
            start = time.perf_counter()
            report = get_adapter(name).check(root)
            images = sum(c.images for c in report.splits.values())
            print(f"| check | {name} | {images} | {time.perf_counter() - start:.2f} |")
        if args.per_dataset:
            print("\n| dataset | generate alone, 1 process (s) |\n|---|---|")
            total = 0.0
            for name in paths:
                start = time.perf_counter()
                write_demo(Path(tmp) / "serial", names=[name], n=args.n, seed=args.seed, workers=1)
                elapsed = time.perf_counter() - start
                total += elapsed
                print(f"| {name} | {elapsed:.2f} |")
            print(f"| all ten, serial | {total:.1f} |")
        write_demo(
            Path(tmp) / "b", names=["jsrt", "vindr-cxr"], n=args.n, seed=args.seed, workers=args.workers
        )
        same = all(
            _digest(Path(tmp) / "a" / n) == _digest(Path(tmp) / "b" / n) for n in ("jsrt", "vindr-cxr")
        )
        print(f"\ndeterministic (same seed -> identical bytes): {same}")


if __name__ == "__main__":
    main()
