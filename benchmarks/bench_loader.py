"""Images/s of the inference loader alone (decode + resize to the baseline's input), without and with workers.

Runs on the embedded demo images (generated into a temp folder) and on the real NIH images if present. Checks
that the worker pipeline yields exactly the same pixels as the in-process one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.models.baseline.train import ResizeTo
from bench.records import ImageInfo, Record
from bench.run.loader import ImageDataset, iter_batches

NIH = Path(__file__).resolve().parents[2] / "shared/data/classification/nih_chexnet_starter_621/images_256"


def _throughput(dataset: ImageDataset, batch: int, workers: int) -> tuple[float, list[np.ndarray]]:
    batches = [list(range(i, min(i + batch, len(dataset)))) for i in range(0, len(dataset), batch)]
    start = time.perf_counter()
    pixels = [p for b in iter_batches(dataset, batches, workers) for _, p in b]
    return len(dataset) / (time.perf_counter() - start), pixels


def _demo_records(n: int) -> tuple[list[Record], Path]:
    from bench.datasets import get_adapter
    from bench.datasets.demo import write_demo

    out = Path(tempfile.mkdtemp(prefix="cxrbench-loader-"))
    records: list[Record] = []
    for name in ("chestxray14", "vindr-cxr", "jsrt"):  # PNG, DICOM, JSRT raw
        write_demo(out, names=[name], n=n, seed=0, workers=1)
        adapter = get_adapter(name)
        for split in adapter.available_splits(out / name):
            for rec in adapter.records(out / name, split):
                meta = {**(rec.meta or {}), "path": f"{name}/{(rec.meta or {})['path']}"}
                records.append(Record(id=f"{name}/{rec.id}", image=rec.image, meta=meta))
    return records, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100, help="demo images per benchmark")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sources = {}
    records, root = _demo_records(args.n)
    sources["demo (PNG + DICOM + JSRT raw, 256²)"] = (records, root)
    if NIH.is_dir():
        files = sorted(NIH.glob("*.png"))
        sources["NIH ChestX-ray14 PNG (images_256)"] = (
            [Record(id=f.name, image=ImageInfo(width=256, height=256), meta={"path": f.name}) for f in files],
            NIH,
        )
    print(f"| images | n | workers=0 img/s | workers={args.workers} img/s | ratio | same pixels |")
    print("|---|---|---|---|---|---|")
    for label, (recs, base) in sources.items():
        dataset = ImageDataset(recs, base, preprocess=ResizeTo(args.size))
        _throughput(dataset, args.batch, 0)  # warm the page cache
        serial, a = _throughput(dataset, args.batch, 0)
        parallel, b = _throughput(dataset, args.batch, args.workers)
        same = all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        print(
            f"| {label} | {len(recs)} | {serial:.0f} | {parallel:.0f} | {parallel / serial:.2f}x | {same} |"
        )
        if not same:
            raise SystemExit("worker pixels differ from in-process pixels")


if __name__ == "__main__":
    main()
