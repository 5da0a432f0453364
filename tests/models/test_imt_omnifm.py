"""Answers files written by OmniFM-DR's own encoding rules, read by `imt-text:` and scored end to end (issue 10).

The generator below follows github.com/MedHK23/OmniFM-DR at 9a2354c, not this adapter:
- instructions are lower-cased and go through OFADataset.pre_caption (data/ofa_dataset.py:97-113); the box
  question is ' Give the accurate bbox of {}.' (data/pretrain_data/joint_multi_instructs_dataset.py:454), the
  attribute questions 'Where is {}?' / 'What is the level of {}?' (:1093-1094);
- a box is resized with the image to patch_image_size (T.RandomResize([P], max_size=P), utils/transforms.py:94-140:
  both sides capped at P, i.e. stretched), divided by max_image_size (utils/transforms.py:243) and quantised as
  int((pos * (num_bins - 1)).round()) (:499-503), boxes joined by spaces (:503-504); the run scripts set
  num_bins=1000 and patch_image_size = max_image_size = 512 (run_scripts/multi_tasks/train.sh:48-51);
- a label answer is the tags joined by ", ", lower-cased (:979); eval_vqa_gen writes every candidate scoring above
  0.5 as `name_{score:.4f}`, joined by ",", and `No Finding_100` when none does (utils/eval_utils.py:170-181);
- a location answer is the first of the finding's location words sorted in reverse (:1136, _process_adjs
  :1418-1432, vocabulary right, left, mid, base, lower lobe, bibasilar, basilar).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.preprocessing import MultiLabelBinarizer

from bench.datasets import get_adapter
from bench.datasets.attributes import LOCATIONS, SEVERITY_GRADES
from bench.datasets.demo import write_demo
from bench.models import Sample, TaskSpec
from bench.models.imt_parse import summarise_answer_meta
from bench.models.imt_text import ImtTextModel
from bench.records import Box, Record, write_records
from bench.run.loader import strip_answers
from bench.run.score import ScoreSettings, build_results

NUM_BINS, PATCH_IMAGE_SIZE, MAX_IMAGE_SIZE = 1000, 512, 512


# ----------------------------------------------------------------------------- OmniFM-DR's encoding rules


def pre_caption(caption: str) -> str:
    """data/ofa_dataset.py:97-113 (without truncation)."""
    caption = (
        caption.lower().lstrip(",.!?*#:;~").replace("-", " ").replace("/", " ").replace("<person>", "person")
    )
    return re.sub(r"\s{2,}", " ", caption).rstrip("\n").strip(" ")


def box_instruction(label: str) -> str:
    return pre_caption(f" Give the accurate bbox of {label.lower()}.".lower())  # .format(label).lower()


def box_answer(boxes: list[tuple[float, float, float, float]], width: int, height: int) -> str:
    ratio_w, ratio_h = PATCH_IMAGE_SIZE / width, PATCH_IMAGE_SIZE / height  # resized to P x P
    region = ""
    for x0, y0, x1, y1 in boxes:
        resized = (x0 * ratio_w, y0 * ratio_h, x1 * ratio_w, y1 * ratio_h)
        bins = [f"<bin_{int(round(v / MAX_IMAGE_SIZE * (NUM_BINS - 1)))}>" for v in resized]
        region += "{} {} {} {} ".format(*bins)
    return region[:-1]


def eval_vqa_gen_answer(candidates: dict[str, float]) -> str:
    listed = [f"{name}_{score:.4f}" for name, score in candidates.items() if score > 0.5]
    return ",".join(listed or ["No Finding_100"])


def location_answer(words: list[str]) -> str:
    return sorted(words, reverse=True)[0]


# ----------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("omnifm-demo")
    write_demo(root, names=("chestx-det", "mimic-cxr"), n=40, seed=0, workers=1)
    return root


def _records(demo: Path, name: str) -> list[Record]:
    return list(get_adapter(name).records(demo / name, "test"))


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _predict(
    path: Path, records: list[Record], spec: TaskSpec, **options
) -> tuple[ImtTextModel, list[Record]]:
    model = ImtTextModel(str(path), **options)
    return model, model.predict([Sample(strip_answers(r)) for r in records], spec)


def _score(tmp_path: Path, task: str, records: list[Record], preds: list[Record]) -> dict:
    write_records(tmp_path / "gt.jsonl", records)
    write_records(tmp_path / "pred.jsonl", preds)
    return build_results(task, tmp_path / "gt.jsonl", tmp_path / "pred.jsonl", ScoreSettings(n_boot=0))


# ----------------------------------------------------------------------------- finding 1: location vs boxes


def test_location_answers_never_feed_localization_chestx_det(demo: Path, tmp_path: Path) -> None:
    """A ChestX-Det answers file with location answers listed BEFORE the box answers: mAP is that of the boxes."""
    records = _records(demo, "chestx-det")
    labels = list(dict.fromkeys(b.label for r in records for b in r.boxes or []))
    rng = np.random.default_rng(0)
    locations, boxes, reference = [], [], []
    for record in records:
        w, h = record.image.width, record.image.height
        predicted = []
        for label in labels:
            gt = [b.bbox for b in record.boxes or [] if b.label == label]
            locations.append(
                {"id": record.id, "instruction": f"where is {label.lower()}?", "answer": "right"}
            )
            # perturb some boxes so that the mAP is neither 0 nor 1
            shifted = [
                (x0 + d, y0, min(x1 + d, w), y1)
                for (x0, y0, x1, y1), d in zip(gt, rng.integers(0, 40, len(gt)), strict=True)
            ]
            answer = box_answer(shifted, w, h) if shifted else "none"
            boxes.append({"id": record.id, "instruction": box_instruction(label), "answer": answer})
            bins = [int(k) for k in re.findall(r"<bin_(\d+)>", answer)]
            for i in range(0, len(bins), 4):  # the reference decoding, c = k / 999 of the original size
                x0, y0, x1, y1 = bins[i : i + 4]
                predicted.append(
                    Box(label=label, bbox=(x0 / 999 * w, y0 / 999 * h, x1 / 999 * w, y1 / 999 * h), score=1.0)
                )
        reference.append(Record(id=record.id, image=record.image, boxes=predicted))
    spec = TaskSpec(tasks=("localization",), box_labels=labels)
    model, preds = _predict(_write(tmp_path / "answers.jsonl", locations + boxes), records, spec)
    got = _score(tmp_path, "localization", records, preds)
    (tmp_path / "ref").mkdir()
    expected = _score(tmp_path / "ref", "localization", records, reference)
    assert 0.2 < expected["metrics"]["ap50"]["value"] < 1.0
    for metric in ("map_coco", "ap50", "ap40_voc"):
        assert got["metrics"][metric]["value"] == pytest.approx(
            expected["metrics"][metric]["value"], abs=1e-12
        )
    info = model.describe()
    assert info["answers_per_template"] == {"Give the accurate bbox of {}.": len(boxes)}
    assert info["parse_failures"] == {} and "attributes" in model.tasks
    # the location answers are attribute answers
    spec = TaskSpec(tasks=("localization", "attributes"), box_labels=labels, labels=labels)
    _, preds = _predict(tmp_path / "answers.jsonl", records, spec)
    assert all(p.meta["attributes"][label]["location"] == ["right"] for p in preds for label in labels)


# ----------------------------------------------------------------------------- findings 3 and 4: label answers


def test_out_of_vocabulary_names_mimic(demo: Path, tmp_path: Path) -> None:
    records = _records(demo, "mimic-cxr")
    labels = list(records[0].labels)
    long_tail = ["Tortuous Aorta", "Calcification of the Aorta", "Subcutaneous Emphysema"]  # :281-284
    rng = np.random.default_rng(1)
    rows, expected_unknown = [], {}
    for record in records:
        tags = [n for n, v in record.labels.items() if v == 1 and rng.random() < 0.7]
        extra = [t for t in long_tail if rng.random() < 0.4]
        for name in extra:
            expected_unknown[name.lower()] = expected_unknown.get(name.lower(), 0) + 1
        answer = ", ".join(extra + tags).lower() if extra or tags else "no finding"
        rows.append({"id": record.id, "instruction": "what disease does this image have?", "answer": answer})
    assert any(", " not in r["answer"] and r["answer"] in {t.lower() for t in long_tail} for r in rows)
    spec = TaskSpec(tasks=("classification",), labels=labels)
    model, preds = _predict(_write(tmp_path / "answers.jsonl", rows), records, spec)
    results = _score(tmp_path, "classification", records, preds)  # no "has no score for label 'No Finding'"
    assert results["n"] == len(records)
    for row, pred in zip(rows, preds, strict=True):
        named = {n for n in labels if n.lower() in row["answer"].split(", ")}
        assert pred.labels == {n: float(n in named) for n in labels}
    assert model.describe()["unknown_label_names"] == expected_unknown
    assert (
        summarise_answer_meta(p.meta for p in preds)["unknown_label_names"]
        == model.describe()["unknown_label_names"]
    )


def test_eval_vqa_gen_scores_give_continuous_auc(demo: Path, tmp_path: Path) -> None:
    records = _records(demo, "mimic-cxr")
    labels = list(records[0].labels)
    rng = np.random.default_rng(2)
    rows, expected = [], []
    for k, record in enumerate(records):
        truth = np.array([record.labels[n] or 0.0 for n in labels])
        probability = np.clip(0.35 * truth + rng.random(len(labels)) * 0.75, 0, 1)
        if k % 7 == 0:
            probability[:] = rng.random(len(labels)) * 0.5  # nothing above 0.5: "No Finding_100"
        candidates = dict(zip(labels, probability.tolist(), strict=True))
        answer = eval_vqa_gen_answer(candidates)
        rows.append({"id": record.id, "instruction": "What disease does this image have?", "answer": answer})
        listed = {n: round(p, 4) for n, p in candidates.items() if p > 0.5}
        expected.append(
            {n: listed.get(n, 0.0) for n in labels}
            if listed
            else {n: float(n == "No Finding") for n in labels}
        )
    assert sum(r["answer"] == "No Finding_100" for r in rows) >= 3
    spec = TaskSpec(tasks=("classification",), labels=labels)
    model, preds = _predict(_write(tmp_path / "answers.jsonl", rows), records, spec)
    for pred, want in zip(preds, expected, strict=True):
        assert pred.labels == pytest.approx(want, abs=1e-12) and pred.meta["score_type"] == "continuous"
    results = _score(tmp_path, "classification", records, preds)
    assert results["notes"]["score_type"] == "continuous" and model.describe()["score_type"] == "continuous"
    assert "classification_scores" in model.describe()["conventions"]
    compared = 0
    for name in labels:
        known = [
            (r.labels[name], e[name])
            for r, e in zip(records, expected, strict=True)
            if r.labels[name] is not None
        ]
        y, s = np.array(known).T if known else (np.array([]), np.array([]))
        if 0 < y.sum() < y.size:
            assert results["per_label"]["auc"][name] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
            compared += 1
    assert compared >= 4


# ----------------------------------------------------------------------------- finding 5: priority


def test_priority_between_two_templates(demo: Path, tmp_path: Path) -> None:
    records = _records(demo, "chestx-det")[:6]
    labels = ["Nodule"]
    rows = []
    for record in records:
        w, h = record.image.width, record.image.height
        rows.append(
            {
                "id": record.id,
                "instruction": box_instruction("Nodule"),
                "answer": box_answer([(0, 0, w / 2, h / 2)], w, h),
            }
        )
        rows.append(
            {
                "id": record.id,
                "instruction": "Give the accurate bounding box of Nodule.",
                "answer": box_answer([(w / 2, h / 2, w, h)], w, h),
            }
        )
        rows.append({"id": record.id, "instruction": " describe the image", "answer": "training wording"})
    rows.append({"id": records[0].id, "instruction": "Describe the image.", "answer": "published wording"})
    spec = TaskSpec(tasks=("localization", "report"), box_labels=labels)
    path = _write(tmp_path / "answers.jsonl", rows)
    model, preds = _predict(path, records, spec)
    # the YAML lists the published box question first: it wins wherever both answer
    assert all(p.boxes[0].bbox[0] == pytest.approx(p.image.width / 2, abs=p.image.width / 999) for p in preds)
    assert [p.report for p in preds] == ["published wording"] + ["training wording"] * 5
    info = model.describe()
    assert info["answers_per_template"] == {
        "Give the accurate bounding box of {}.": 6,
        "Describe the image.": 1,
        "describe the image": 5,
    }
    assert info["answers_superseded"] == {"Give the accurate bbox of {}.": 6, "describe the image": 1}
    assert summarise_answer_meta(p.meta for p in preds)["answers_superseded"] == info["answers_superseded"]
    # a prompt file that declares the training wording first reverses the choice
    prompt = tmp_path / "prompts.yaml"
    prompt.write_text(
        'localization: ["Give the accurate bbox of {}.", "Give the accurate bounding box of {}."]\n'
    )
    _, preds = _predict(path, records, spec, prompts=str(prompt))
    assert all(p.boxes[0].bbox[:2] == pytest.approx((0.0, 0.0)) for p in preds)


# ----------------------------------------------------------------------------- attributes end to end


OMNIFM_WORD = {"right": "right", "left": "left", "basal": "base", "middle zone": "mid"}
READ_AS = {
    "right": ["right"],
    "left": ["left"],
    "base": ["basal"],
    "mid": ["middle zone"],
    "bibasilar": ["bilateral", "basal"],
}
SEVERITY_WORD = {"mild": "small", "moderate": "moderate", "severe": "large"}


def test_attributes_scored_against_sklearn(demo: Path, tmp_path: Path) -> None:
    records = _records(demo, "mimic-cxr")
    rng = np.random.default_rng(3)
    rows, predicted = [], []
    for record in records:
        guess = {}
        for finding, truth in (record.meta.get("attributes") or {}).items():
            terms = set(truth["location"])
            words = (
                ["bibasilar"]
                if {"bilateral", "basal"} <= terms
                else [OMNIFM_WORD[t] for t in terms if t in OMNIFM_WORD]
            )
            if words and rng.random() < 0.8:
                word = location_answer(words) if rng.random() < 0.7 else rng.choice(["left", "right", "mid"])
                rows.append(
                    {"id": record.id, "instruction": f"where is {finding.lower()}?", "answer": f" {word}"}
                )
                guess.setdefault(finding, {})["location"] = READ_AS[word]
            if truth["severity"] and rng.random() < 0.8:
                grade = truth["severity"] if rng.random() < 0.6 else rng.choice(SEVERITY_GRADES)
                rows.append(
                    {
                        "id": record.id,
                        "instruction": f"what is the level of {finding.lower()}?",
                        "answer": SEVERITY_WORD[grade],
                    }
                )
                guess.setdefault(finding, {})["severity"] = grade
        predicted.append(guess)
    spec = TaskSpec(tasks=("attributes",), labels=list(records[0].labels))
    model, preds = _predict(_write(tmp_path / "answers.jsonl", rows), records, spec)
    assert model.tasks == {"attributes"} and model.describe()["parse_failures"] == {}
    results = _score(tmp_path, "attributes", records, preds)
    # the reference: every (image, finding) the ground truth gives the attribute for, sklearn on the readings
    for attribute in ("location", "severity"):
        truths, guesses = [], []
        for record, guess in zip(records, predicted, strict=True):
            for finding, truth in (record.meta.get("attributes") or {}).items():
                if truth[attribute]:
                    truths.append(truth[attribute])
                    guesses.append(
                        guess.get(finding, {}).get(attribute) or ([] if attribute == "location" else "-")
                    )
        if attribute == "location":
            binarizer = MultiLabelBinarizer(classes=list(LOCATIONS)).fit([])
            y_true, y_pred = binarizer.transform(truths), binarizer.transform(guesses)
            columns = [j for j in range(len(LOCATIONS)) if y_true[:, j].any()]
            macro = f1_score(y_true, y_pred, average="macro", labels=columns, zero_division=0)
            accuracy = accuracy_score(y_true, y_pred)
        else:
            present = [g for g in SEVERITY_GRADES if g in truths]
            macro = f1_score(truths, guesses, average="macro", labels=present, zero_division=0)
            accuracy = accuracy_score(truths, guesses)
        assert len(truths) >= 10
        assert results["metrics"][f"{attribute}_accuracy"]["value"] == pytest.approx(accuracy, abs=1e-12)
        assert results["metrics"][f"{attribute}_macro_f1"]["value"] == pytest.approx(macro, abs=1e-12)
        assert 0 < accuracy < 1
