"""The demo study: 160 cases from 4 sites, 3 readers and a coordinator, ready to read, with an image per case.

Original reports come from the IU X-ray (Open-i) collection when ``NLMCXR_reports.tgz`` is available (licence
CC BY-NC-ND 4.0: non-commercial use; the reports stay local to the demo database), otherwise from the embedded
benchmark demo's report writer (``bench.datasets.demo.reports``) describing a synthetic case.

The "AI" report of a case is a retrieval baseline, as report-generation papers use one: the report of the nearest
case (Jaccard distance between label sets) in a separate pool of ``POOL_FACTOR`` x as many cases from the same
source, each pool report used at most once. The pool never holds a study case, so an AI report is never its case's
own report; it comes from the same distribution as the originals, so nothing in wording, layout or length tells
the sources apart (the build's blinding audit checks), while it can still be wrong for its case (side, size,
extra or missing findings).

Images are synthetic radiographs drawn by the benchmark demo (``bench.datasets.demo.anatomy``): for template cases
the very case the report describes; for IU X-ray cases a case drawn with the findings of the report's MeSH terms
(side and size are not matched). They are written as PNG files beside the database.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from readerstudy.study.build import BuildResult, CaseRecord, build_from_records
from readerstudy.study.deid import find_identifiers
from readerstudy.study.protocol import protocol_from_dict

IU_REPORTS = Path("/work/shared/data/reports/iu_xray_openi/NLMCXR_reports.tgz")
IU_LICENCE = "IU X-ray (Open-i) reports, CC BY-NC-ND 4.0, https://openi.nlm.nih.gov/"
TEMPLATE_SOURCE = "templates (bench demo report writer on synthetic cases)"
SITES = ("north", "south", "east", "west")
DEMO_READERS = {"reader1": "demo-reader1", "reader2": "demo-reader2", "reader3": "demo-reader3"}
DEMO_COORDINATOR = ("coordinator", "demo-coordinator")
IMAGE_SIZE = 256
POOL_FACTOR = 2  # retrieval pool size per study case


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def _clean_iu(text: str) -> str:
    text = text.replace("x-XXXX", "x-ray")
    return " ".join(s for s in _sentences(text) if "XXXX" not in s)


def _jaccard_distance(a: frozenset[str], b: frozenset[str]) -> float:
    return 0.0 if not a and not b else 1.0 - len(a & b) / len(a | b)


def retrieve(case_labels: Sequence[frozenset[str]], pool_labels: Sequence[frozenset[str]]) -> list[int]:
    """For each case, the index of the nearest unused pool report (Jaccard distance of label sets; ties: pool
    order). Each pool report is used at most once: a report seen twice in a study would mark itself as the AI's."""
    if len(pool_labels) < len(case_labels):
        raise ValueError("the retrieval pool must hold at least as many reports as there are cases")
    unused = list(range(len(pool_labels)))
    chosen = []
    for label in case_labels:
        best = min(unused, key=lambda j: (_jaccard_distance(label, pool_labels[j]), j))
        unused.remove(best)
        chosen.append(best)
    return chosen


def iu_reports(path: Path = IU_REPORTS, limit: int = 160) -> list[tuple[str, str, str, frozenset[str]]]:
    """(IU id, findings, impression, MeSH major terms) of the first ``limit`` usable reports by id (findings of
    40+ characters, an impression of 10+, nothing the de-identification gate flags).

    A term is its heading before the first "/" (``Cardiomegaly/mild`` -> ``cardiomegaly``); normal reports have
    the empty set.
    """
    parsed = []
    with tarfile.open(path) as archive:
        members = sorted(
            (m for m in archive.getmembers() if m.name.endswith(".xml")),
            key=lambda m: int(Path(m.name).stem),
        )
        for member in members:
            handle = archive.extractfile(member)
            if handle is None:
                continue
            root = ElementTree.parse(handle).getroot()
            fields = {node.get("Label"): (node.text or "") for node in root.iter("AbstractText")}
            findings, impression = (
                _clean_iu(fields.get("FINDINGS", "")),
                _clean_iu(fields.get("IMPRESSION", "")),
            )
            if len(findings) < 40 or len(impression) < 10:
                continue
            if find_identifiers(_report(findings, impression), []):
                continue  # the build's de-identification gate would drop the case (or its AI report)
            majors = {(node.text or "").split("/")[0].strip().lower() for node in root.iter("major")}
            terms = frozenset(majors - {"normal", ""})
            parsed.append((Path(member.name).stem, findings, impression, terms))
            if len(parsed) == limit:
                break
    return parsed


def _kinds_of(terms: frozenset[str]) -> list[str]:
    """The benchmark demo's drawable finding kinds named by IU MeSH terms (``bench.datasets.demo.common.look``)."""
    from bench.datasets.demo.common import look

    return sorted({kind for kind in (look(term) for term in terms) if kind is not None})


def _draw_with(rng: np.random.Generator, kinds: list[str]) -> np.ndarray:
    """A synthetic radiograph showing exactly `kinds` (the benchmark demo's anatomy, lesions and rendering)."""
    from bench.datasets.demo import anatomy

    # synth_case draws a random subset of its pool; a demo image must show every finding its report names.
    masks = anatomy._anatomy(rng, IMAGE_SIZE, cardiomegaly="Cardiomegaly" in kinds)
    edits: list[tuple[np.ndarray, float | None]] = []
    for kind in kinds:
        for _ in range(20):
            findings, new_edits = anatomy._place(
                kind, rng, IMAGE_SIZE, masks, anatomy.FIELD_OF_VIEW_MM / IMAGE_SIZE
            )
            if findings:
                edits += new_edits
                break
    return anatomy._render(rng, IMAGE_SIZE, masks, edits)


def template_cases(
    n_cases: int, seed_key: str, image_size: int = IMAGE_SIZE
) -> list[tuple[str, str, frozenset[str], np.ndarray]]:
    """(findings, impression, labels, image) of synthetic cases written by the benchmark demo's reporter."""
    from bench.datasets.demo.anatomy import synth_case
    from bench.datasets.demo.reports import NEGATIVES, report_parts

    vocabulary = list(NEGATIVES)
    rng = _rng(seed_key)
    cases = []
    for _ in range(n_cases):
        case = synth_case(rng, image_size, vocabulary, p_normal=0.4, max_findings=2)
        findings, impression = report_parts(case, vocabulary)
        cases.append((findings, impression, frozenset(case.positive), case.image))
    return cases


def _report(findings: str, impression: str) -> str:
    return f"FINDINGS: {findings}\nIMPRESSION: {impression}"


def default_images_dir(db: str | Path) -> Path:
    """``study.db`` -> ``study_images/`` beside it; a server URL -> ``./demo_study_images``."""
    text = str(db)
    if "://" in text and not text.startswith("sqlite:///"):
        return Path("demo_study_images").resolve()
    path = Path(text.removeprefix("sqlite:///"))
    return path.with_name(path.stem + "_images").resolve()


def demo_records(images_dir: Path, n_cases: int = 160, use_iu: bool = True) -> tuple[list[CaseRecord], str]:
    """The demo's case records; writes one PNG per case into ``images_dir``."""
    from bench.datasets.demo.writers import save_png

    n_pool = POOL_FACTOR * n_cases
    iu = iu_reports(limit=n_cases + n_pool) if use_iu and IU_REPORTS.exists() else []
    if len(iu) == n_cases + n_pool:
        source = IU_LICENCE
        texts = [(findings, impression) for _, findings, impression, _ in iu]
        labels = [terms for *_, terms in iu]
        images = [_draw_with(_rng(f"iu-{iu_id}"), _kinds_of(terms)) for iu_id, *_, terms in iu[:n_cases]]
    else:
        source = TEMPLATE_SOURCE
        cases = template_cases(n_cases, "cxrbench-study-demo-cases")
        # The pool's images are never shown: drawn small, since report sizes are in mm whatever the image size.
        cases += template_cases(n_pool, "cxrbench-study-demo-pool", image_size=64)
        texts = [(findings, impression) for findings, impression, _, _ in cases]
        labels = [label for _, _, label, _ in cases]
        images = [image for *_, image in cases[:n_cases]]
    donor = [n_cases + j for j in retrieve(labels[:n_cases], labels[n_cases:])]
    images_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for index, ((findings, impression), image) in enumerate(zip(texts[:n_cases], images, strict=True)):
        case_id = f"demo-{index + 1:03d}"
        image_path = images_dir / f"{case_id}.png"
        save_png(image_path, image)
        records.append(
            CaseRecord(
                "demo",
                index + 1,
                {
                    "case_id": case_id,
                    "site": SITES[index % len(SITES)],
                    "original_report": _report(findings, impression),
                    "ai_report": _report(*texts[donor[index]]),
                    "normal_abnormal": "abnormal" if labels[index] else "normal",
                    "image_path": str(image_path),
                },
            )
        )
    return records, source


def build_demo(
    db: str | Path, n_cases: int = 160, use_iu: bool = True, images_dir: Path | None = None
) -> tuple[BuildResult, str]:
    """Build the demo study; returns the build result and the report source (with its licence).

    Nothing is left behind when the build fails (an existing database, a failed audit): the image folder is
    removed again if this call created it.
    """
    text = str(db)
    is_file = "://" not in text or text.startswith("sqlite:///")
    if is_file and Path(text.removeprefix("sqlite:///")).exists():
        raise FileExistsError(f"{db} already exists: a study is built once (delete it to start over)")
    images_dir = images_dir or default_images_dir(db)
    created = not images_dir.exists()
    try:
        records, source = demo_records(images_dir, n_cases, use_iu)
        protocol = protocol_from_dict(
            {
                "name": "cxrbench demo reader study",
                "seed": 2024,
                "criteria": ["diagnostic clarity"],
                "margin": 0.0,
                "report_source": source,
                "ai_report_source": "retrieval baseline: nearest report by label set from a separate pool, used once",
                "readers": [{"id": r, "password": p} for r, p in DEMO_READERS.items()],
                "coordinators": [{"id": DEMO_COORDINATOR[0], "password": DEMO_COORDINATOR[1]}],
            }
        )
        return build_from_records(records, protocol, db), source
    except BaseException:
        if created:
            shutil.rmtree(images_dir, ignore_errors=True)
        raise
