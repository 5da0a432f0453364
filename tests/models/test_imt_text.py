"""IMT-CXR text answers: the pure parsers (hand-computed cases, malformed input) and the `imt-text:` adapter."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from sklearn.metrics import roc_auc_score

from bench.metrics.segmentation import decode_mask
from bench.models import Sample, TaskSpec, load_model
from bench.models.imt_parse import (
    AnswerParseError,
    Geometry,
    build_synonyms,
    match_instruction,
    parse_bins,
    parse_boxes,
    parse_label_list,
    parse_level,
    parse_polygon,
    summarise_answer_meta,
)
from bench.models.imt_text import ImtTextModel, PromptSet
from bench.records import Record, RecordError, write_records
from bench.run.score import ScoreSettings, build_results

SYN = build_synonyms()


def _close(got: object, expected: object) -> None:
    np.testing.assert_allclose(
        np.asarray(got, dtype=float), np.asarray(expected, dtype=float), rtol=0, atol=1e-9
    )


# ----------------------------------------------------------------------------- bins -> pixels


def test_stretch_bins_hand_computed() -> None:
    g = Geometry(width=1000, height=500)
    assert g.to_pixels(0, 0) == (0.0, 0.0)
    assert g.to_pixels(999, 999) == pytest.approx((1000.0, 500.0))
    # c = k / 999: k = 100 -> x = 100 / 999 * 1000, k = 200 -> y = 200 / 999 * 500
    assert g.to_pixels(100, 200) == pytest.approx((100000 / 999, 100000 / 999))
    # the resized input size cancels for a stretch resize
    assert Geometry(1000, 500, input_size=(384, 384)).to_pixels(100, 200) == pytest.approx(
        g.to_pixels(100, 200)
    )


def test_pad_and_center_crop_hand_computed() -> None:
    pad = Geometry(width=200, height=100, resize="pad")  # square canvas of side 200, image rows 50..150
    assert pad.to_pixels(0, 0) == pytest.approx((0.0, -50.0))
    assert pad.to_pixels(999, 999) == pytest.approx((200.0, 150.0))
    assert pad.to_pixels(500, 500) == pytest.approx((500 / 999 * 200, 500 / 999 * 200 - 50))
    crop = Geometry(width=200, height=100, resize="center_crop")  # centre square: columns 50..150
    assert crop.to_pixels(0, 0) == pytest.approx((50.0, 0.0))
    assert crop.to_pixels(999, 999) == pytest.approx((150.0, 100.0))


def test_round_trip_within_half_a_bin() -> None:
    rng = np.random.default_rng(0)
    width, height = 2544, 3056
    g = Geometry(width, height)
    for cx, cy in rng.random((200, 2)):
        k = (round(cx * 999), round(cy * 999))  # the model's encoding
        x, y = g.to_pixels(*k)
        assert abs(x - cx * width) <= 0.5 / 999 * width + 1e-9
        assert abs(y - cy * height) <= 0.5 / 999 * height + 1e-9


def test_geometry_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="resize mode"):
        Geometry(10, 10, resize="letterbox")
    with pytest.raises(ValueError, match="image_size"):
        Geometry(10, 10, input_size=(0, 10))


# ----------------------------------------------------------------------------- tokens and boxes


def test_parse_bins_ignores_text_and_rejects_malformed() -> None:
    assert parse_bins("The nodule: <bin_1> <bin_22>,<bin_333> and <bin_999>.") == [1, 22, 333, 999]
    for bad in ("<bin_12", "<bin_ab> <bin_1>", "bin_5", "<bin_-3>", "<BIN_4>"):
        with pytest.raises(AnswerParseError, match="malformed"):
            parse_bins(bad)
    with pytest.raises(AnswerParseError, match="outside 0..999"):
        parse_bins("<bin_0> <bin_1000> <bin_5> <bin_6>")


def test_parse_boxes_hand_computed() -> None:
    g = Geometry(width=999, height=1998)
    parsed = parse_boxes("<bin_100> <bin_200> <bin_300> <bin_400>", g)
    _close(parsed.boxes, [(100.0, 400.0, 300.0, 800.0)])
    assert (parsed.reordered, parsed.clipped) == (0, 0)
    two = parse_boxes("boxes: <bin_0> <bin_0> <bin_999> <bin_999> ; <bin_10> <bin_20> <bin_30> <bin_40>", g)
    _close(two.boxes, [(0, 0, 999, 1998), (10, 40, 30, 80)])


def test_parse_boxes_reversed_corners_are_reordered_and_counted() -> None:
    parsed = parse_boxes("<bin_300> <bin_400> <bin_100> <bin_200>", Geometry(999, 999))
    _close(parsed.boxes, [(100, 200, 300, 400)])
    assert parsed.reordered == 1


def test_parse_boxes_pad_mode_clips_into_the_image() -> None:
    parsed = parse_boxes("<bin_0> <bin_0> <bin_999> <bin_999>", Geometry(200, 100, resize="pad"))
    _close(parsed.boxes, [(0, 0, 200, 100)])
    assert parsed.clipped == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        ("   ", "empty answer"),
        ("it is in the right upper lobe", "no location tokens"),
        ("<bin_1> <bin_2> <bin_3>", "a box needs 4"),
        ("<bin_1> <bin_2> <bin_3> <bin_4> <bin_5>", "a box needs 4"),
        ("<bin_1> <bin_2> <bin_3> <bin_1234>", "outside"),
        ("<bin_1> <bin_2> <bin_3> <bin_4", "malformed"),
    ],
)
def test_parse_boxes_failures(answer: str, reason: str) -> None:
    with pytest.raises(AnswerParseError, match=reason):
        parse_boxes(answer, Geometry(100, 100))


@pytest.mark.parametrize("answer", ["none", "No.", "There is no nodule.", "not found", "No Finding"])
def test_negative_answers_mean_no_box(answer: str) -> None:
    assert parse_boxes(answer, Geometry(100, 100)).boxes == ()


# ----------------------------------------------------------------------------- polygons


def test_polygon_hand_computed_and_rasterised_like_coco() -> None:
    g = Geometry(width=999, height=999)
    parsed = parse_polygon("<bin_100> <bin_100> <bin_500> <bin_100> <bin_500> <bin_600>", g)
    _close(parsed.points, [(100, 100), (500, 100), (500, 600)])
    full = parse_polygon(
        "<bin_0> <bin_0> <bin_999> <bin_0> <bin_999> <bin_999> <bin_0> <bin_999>", Geometry(10, 8)
    )
    _close(full.points, [(0, 0), (10, 0), (10, 8), (0, 8)])


def test_polygon_failures() -> None:
    g = Geometry(50, 50)
    with pytest.raises(AnswerParseError, match="at least 3"):
        parse_polygon("<bin_1> <bin_2> <bin_3> <bin_4>", g)
    with pytest.raises(AnswerParseError, match="x/y pairs"):
        parse_polygon("<bin_1> <bin_2> <bin_3> <bin_4> <bin_5> <bin_6> <bin_7>", g)
    with pytest.raises(AnswerParseError, match="empty"):
        parse_polygon("", g)
    assert parse_polygon("none", g).points == ()


# ----------------------------------------------------------------------------- labels and levels


def test_label_list_with_synonyms_and_case() -> None:
    parsed = parse_label_list("Nodule, CARDIOMEGALY, effusion, Pleural_Thickening.", SYN)
    assert parsed.positives == {"Nodule", "Cardiomegaly", "Pleural Effusion", "Pleural Thickening"}
    assert parse_label_list("infiltrate; Nodule/Mass", SYN).positives == {"Infiltration", "Nodule/Mass"}
    assert parse_label_list("No Finding", SYN).positives == {"No Finding"}
    assert parse_label_list("none", SYN).positives == frozenset()
    mixed = parse_label_list("Nodule, glass shards", SYN)
    assert mixed.positives == {"Nodule"} and mixed.unknown_names == ("glass shards",)


@pytest.mark.parametrize("answer", ["", "the lungs look a bit odd", "<bin_1> <bin_2>", ", ,"])
def test_label_list_failures(answer: str) -> None:
    with pytest.raises(AnswerParseError):
        parse_label_list(answer, SYN)


def test_prompt_file_synonyms_win() -> None:
    syn = build_synonyms({"glass shards": "Foreign Object"})
    assert parse_label_list("glass shards", syn).positives == {"Foreign Object"}


def test_levels() -> None:
    assert parse_level("Moderate.") == (1.0, "moderate")
    assert parse_level("mild pleural effusion") == (1.0, "mild")
    assert parse_level("None") == (0.0, "none")
    for bad in ("", "maybe", "<bin_3>"):
        with pytest.raises(AnswerParseError):
            parse_level(bad)


def test_instruction_matching_ignores_case_and_space_before_punctuation() -> None:
    assert match_instruction("where is Effusion?", "Where is {} ?") == "effusion"
    assert match_instruction(
        "Give the accurate bounding box of left lung .", "Give the accurate bounding box of {}."
    )
    assert (
        match_instruction("What disease does this image have ?", "What disease does this image have?") == ""
    )
    assert match_instruction("Where is it now?", "Describe the image.") is None


def test_binary_scores_give_balanced_accuracy_auc() -> None:
    """The documented AUC of 0/1 scores: trapezoidal ROC through one point = (TPR + TNR) / 2."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.integers(0, 2, 60)
        y[:2] = [0, 1]
        s = rng.integers(0, 2, 60)
        tpr = (s[y == 1] == 1).mean()
        tnr = (s[y == 0] == 0).mean()
        assert roc_auc_score(y, s) == pytest.approx((tpr + tnr) / 2)


# ----------------------------------------------------------------------------- the adapter


def _answers(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


IMAGES = {"a": (999, 999), "b": (200, 100)}  # id -> (width, height)
SPEC = TaskSpec(
    tasks=("classification", "localization", "segmentation", "report"),
    labels=["Nodule", "Cardiomegaly", "Pleural Effusion"],
    box_labels=["Nodule"],
    structures=["heart"],
)


def _samples() -> list[Sample]:
    return [Sample(Record(id=i, image={"width": w, "height": h})) for i, (w, h) in IMAGES.items()]


def _rows(b_disease: str = "I cannot tell from this image") -> list[dict]:
    tri = "<bin_0> <bin_0> <bin_999> <bin_0> <bin_999> <bin_999> <bin_0> <bin_999>"
    return [
        {"id": "a", "instruction": "What disease does this image have?", "answer": "Nodule, effusion"},
        {
            "id": "a",
            "instruction": "Give the accurate bounding box of Nodule.",
            "answer": "<bin_100> <bin_200> <bin_300> <bin_400>",
        },
        {"id": "a", "instruction": "Please segment the heart from the given image.", "answer": tri},
        {"id": "a", "instruction": "Describe the image.", "answer": " Small left nodule. "},
        {"id": "b", "instruction": "what disease does this image have ?", "answer": b_disease},
        {"id": "b", "instruction": "give the accurate bbox of nodule.", "answer": "<bin_1> <bin_2>"},
        {"id": "b", "instruction": "Please segment the heart from the given image.", "answer": "<bin_5>"},
        {"id": "b", "instruction": "Describe the image.", "answer": "", "image_size": [384, 384]},
        {"id": "b", "instruction": "Is this a question we do not know?", "answer": "yes"},
    ]


def test_adapter_parses_every_task(tmp_path: Path) -> None:
    path = _answers(tmp_path / "answers.jsonl", _rows())
    model = load_model(f"imt-text:{path}")
    assert isinstance(model, ImtTextModel) and not model.needs_images
    assert model.tasks == set(SPEC.tasks)
    a, b = model.predict(_samples(), SPEC)
    assert a.labels == {"Nodule": 1.0, "Cardiomegaly": 0.0, "Pleural Effusion": 1.0}
    assert [(x.label, x.score) for x in a.boxes] == [("Nodule", 1.0)]
    assert a.boxes[0].bbox == pytest.approx((100, 200, 300, 400))
    assert decode_mask(a.masks["heart"].rle()).all()  # the polygon covers the whole 999 x 999 image
    assert a.report == "Small left nodule."
    assert a.meta == {
        "answers_per_template": {
            "Describe the image.": 1,
            "Give the accurate bounding box of {}.": 1,
            "Please segment the {} from the given image.": 1,
            "What disease does this image have?": 1,
        },
        "score_type": "binary",
    }
    # b: all three location / label answers are unparseable -> recorded, no fallback values
    assert b.labels is None and b.boxes == [] and b.masks == {} and b.report == ""
    templates = [f["template"] for f in b.meta["parse_failures"]]
    assert templates == [
        "What disease does this image have?",
        "Give the accurate bbox of {}.",
        "Please segment the {} from the given image.",
    ]
    expected = {t: 1 for t in templates}
    assert model.parse_failures == expected
    assert summarise_answer_meta([a.meta, b.meta])["parse_failures"] == expected
    info = model.describe()
    assert info["file"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["score_type"] == "binary" and info["parse_failures"] == expected
    assert info["repairs"] == {"empty_reports": 1}
    assert info["unmatched_instructions"] == {"Is this a question we do not know?": 1}


def test_polygon_mask_matches_pycocotools(tmp_path: Path) -> None:
    answer = "<bin_100> <bin_100> <bin_900> <bin_150> <bin_500> <bin_950>"
    path = _answers(
        tmp_path / "a.jsonl",
        [{"id": "b", "instruction": "Please segment the heart from the given image.", "answer": answer}],
    )
    spec = TaskSpec(tasks=("segmentation",), structures=["heart"])
    (rec,) = ImtTextModel(str(path)).predict([_samples()[1]], spec)
    w, h = IMAGES["b"]
    poly = [100 / 999 * w, 100 / 999 * h, 900 / 999 * w, 150 / 999 * h, 500 / 999 * w, 950 / 999 * h]
    reference = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([poly], h, w))).astype(bool)
    got = decode_mask(rec.masks["heart"].rle())
    assert got.shape == (h, w) and got.sum() > 1000
    np.testing.assert_array_equal(got, reference)


def test_unparseable_labels_absent_makes_the_scorer_fail_clearly(tmp_path: Path) -> None:
    model = ImtTextModel(str(_answers(tmp_path / "a.jsonl", _rows())))
    spec = TaskSpec(tasks=("classification",), labels=SPEC.labels)
    preds = model.predict(_samples(), spec)
    gt = [Record(id=i, labels={"Nodule": 1, "Cardiomegaly": 0, "Pleural Effusion": 0}) for i in IMAGES]
    write_records(tmp_path / "gt.jsonl", gt)
    write_records(tmp_path / "pred.jsonl", preds)
    with pytest.raises(RecordError, match="record 'b' has no score for label 'Nodule'"):
        build_results(
            "classification", tmp_path / "gt.jsonl", tmp_path / "pred.jsonl", ScoreSettings(n_boot=0)
        )


def test_unparseable_labels_negative_is_opt_in_and_counted(tmp_path: Path) -> None:
    model = ImtTextModel(str(_answers(tmp_path / "a.jsonl", _rows())), unparseable_labels="negative")
    spec = TaskSpec(tasks=("classification",), labels=SPEC.labels)
    _, b = model.predict(_samples(), spec)
    assert b.labels == {"Nodule": 0.0, "Cardiomegaly": 0.0, "Pleural Effusion": 0.0}
    assert model.describe()["unparseable_labels"] == "negative"
    assert model.parse_failures == {"What disease does this image have?": 1}


def test_levels_per_label_and_prompt_file(tmp_path: Path) -> None:
    prompt_file = tmp_path / "prompts.yaml"
    prompt_file.write_text(
        'classification: "What is the level of {} ?"\n'
        'localization: "Find {} please"\n'
        'label_names: {"Pleural Effusion": "Effusion"}\n'
    )
    rows = [
        {"id": "a", "instruction": "What is the level of Nodule ?", "answer": "mild"},
        {"id": "a", "instruction": "What is the level of Effusion?", "answer": "none"},
        {"id": "a", "instruction": "what is the level of cardiomegaly ?", "answer": "hmm"},
        {"id": "a", "instruction": "Find Nodule please", "answer": "<bin_10> <bin_20> <bin_30> <bin_40>"},
    ]
    model = ImtTextModel(str(_answers(tmp_path / "a.jsonl", rows)), prompts=str(prompt_file))
    assert (
        model.prompts.instruction("What is the level of {} ?", "Pleural Effusion")
        == "What is the level of Effusion ?"
    )
    spec = TaskSpec(tasks=("classification", "localization"), labels=SPEC.labels, box_labels=["Nodule"])
    (a,) = model.predict(_samples()[:1], spec)
    assert a.labels == {"Nodule": 1.0, "Pleural Effusion": 0.0}  # Cardiomegaly unparseable: absent
    assert a.meta["levels"] == {"Nodule": "mild", "Pleural Effusion": "none"}
    assert a.boxes[0].bbox == pytest.approx((10, 20, 30, 40))
    assert model.parse_failures == {"What is the level of {} ?": 1}
    assert model.describe()["prompts"]["sha256"] == hashlib.sha256(prompt_file.read_bytes()).hexdigest()


def test_bad_prompt_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('localization: "Where is the lesion?"\n')
    with pytest.raises(ValueError, match="exactly one"):
        PromptSet.load(bad)
    bad.write_text('clasification: "x"\n')
    with pytest.raises(ValueError, match="unknown key"):
        PromptSet.load(bad)
    with pytest.raises(FileNotFoundError, match="prompt file not found"):
        PromptSet.load(tmp_path / "missing.yaml")


def test_missing_and_duplicate_answers_are_errors(tmp_path: Path) -> None:
    rows = [r for r in _rows() if not (r["id"] == "b" and r["instruction"].startswith("Describe"))]
    model = ImtTextModel(str(_answers(tmp_path / "a.jsonl", rows)))
    with pytest.raises(RecordError, match=r"a\.jsonl: no report answer for id 'b'"):
        model.predict(_samples(), SPEC)
    spec = TaskSpec(tasks=("localization",), box_labels=["Nodule", "Mass"])
    with pytest.raises(
        RecordError, match=re.escape("no answer for id 'a' to 'Give the accurate bounding box of Mass.'")
    ):
        model.predict(_samples()[:1], spec)
    dup = _rows() + [
        {"id": "a", "instruction": "give the accurate bounding box of nodule .", "answer": "none"}
    ]
    with pytest.raises(RecordError, match=r":10: second answer for id 'a'.*first on line 2"):
        ImtTextModel(str(_answers(tmp_path / "d.jsonl", dup)))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "instruction": "Describe the image."}', "'answer' must be a string"),
        ('{"id": "", "instruction": "x", "answer": ""}', "'id' must be a non-empty string"),
        ('{"id": "a", "instruction": "x", "answer": "", "image_size": [0, 3]}', "image_size"),
        ('{"id": "a", "instruction": "x", "answer": "", "extra": 1}', "unknown key"),
        ("[1, 2]", "JSON object"),
        ("{oops", "invalid JSON"),
    ],
)
def test_bad_answer_lines_are_located(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "instruction": "Describe the image.", "answer": "ok"}\n' + line + "\n")
    with pytest.raises(RecordError, match=f"bad.jsonl:2: .*{message}"):
        ImtTextModel(str(path))


# ----------------------------------------------------------------------------- label lists (issue 10)


@pytest.mark.parametrize(
    ("answer", "positives", "unknown"),
    [
        ("tortuous aorta, cardiomegaly", {"Cardiomegaly"}, ("tortuous aorta",)),
        ("tortuous aorta", set(), ("tortuous aorta",)),  # a complete list: no in-vocabulary finding
        (
            "Calcification of the Aorta; Pneumomediastinum",
            set(),
            ("calcification of the aorta", "pneumomediastinum"),
        ),
        ("subcutaneous emphysema, no finding", {"No Finding"}, ("subcutaneous emphysema",)),
    ],
)
def test_label_list_out_of_vocabulary_names_are_a_complete_list(answer, positives, unknown) -> None:
    parsed = parse_label_list(answer, SYN)
    assert parsed.positives == positives and parsed.unknown_names == unknown and parsed.scores is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("there is a small effusion", "not a label name"),  # a sentence, not a list
        ("Nodule, and I think an effusion too", "not a label name"),
        ("it looks fine", "not a label name"),
        ("cardiomegaly with a very large and dense heart shadow", "not a label name"),  # > MAX_NAME_WORDS
        ("Edema 12", "not a label name"),
        ("<bin_4> <bin_5>", "location tokens"),
        ("", "empty"),
    ],
)
def test_label_list_that_is_not_a_list_fails(answer: str, reason: str) -> None:
    with pytest.raises(AnswerParseError, match=reason):
        parse_label_list(answer, SYN)


def test_eval_vqa_gen_scored_list() -> None:
    """utils/eval_utils.py:173-181 of OmniFM-DR: `name_{score:.4f}` joined by ',', `No Finding_100` if none > 0.5."""
    parsed = parse_label_list("Pleural Effusion_0.9127,Cardiomegaly_0.5001,tortuous aorta_0.7000", SYN)
    assert parsed.scores == {"Pleural Effusion": 0.9127, "Cardiomegaly": 0.5001}
    assert parsed.unknown_names == ("tortuous aorta",)
    assert parse_label_list("No Finding_100", SYN).scores == {"No Finding": 1.0}
    assert parse_label_list("Pleural_Thickening_0.6000", SYN).scores == {"Pleural Thickening": 0.6}
    with pytest.raises(AnswerParseError, match="outside"):
        parse_label_list("Edema_1.5", SYN)
    with pytest.raises(AnswerParseError, match="mixes scored"):
        parse_label_list("Edema_0.7000, Nodule", SYN)


# ----------------------------------------------------------------------------- attribute words


def test_location_answers_in_ground_truth_terms() -> None:
    from bench.models.imt_attributes import parse_location

    # OmniFM-DR's vocabulary (joint_multi_instructs_dataset.py:1419)
    expected = {
        "right": ("right",),
        "left": ("left",),
        "mid": ("middle zone",),
        "base": ("basal",),
        "basilar": ("basal",),
        "bibasilar": ("bilateral", "basal"),
        "lower lobe": (),
    }
    for word, terms in expected.items():
        assert parse_location(f" {word}").terms == terms, word
    assert parse_location("Right lower lobe").terms == ("right", "right lower lobe")
    assert parse_location("lower lobe, left").terms == ("left", "left lower lobe")
    assert parse_location("right and left bases").terms == ("bilateral", "basal")
    assert parse_location("none").terms == ()
    for bad, reason in (
        ("", "empty"),
        ("<bin_1> <bin_2> <bin_3> <bin_4>", "location tokens"),
        ("big", "no location"),
    ):
        with pytest.raises(AnswerParseError, match=reason):
            parse_location(bad)


def test_location_and_severity_words_read_as_the_ground_truth_rules_read_them() -> None:
    """Every phrase the ground-truth extractor also knows gives the same terms / grade as it does in a report."""
    from bench.datasets.attributes import finding_attributes
    from bench.models.imt_attributes import LOCATION_PHRASES, SEVERITY_WORDS, parse_location, parse_severity

    for word, grade in SEVERITY_WORDS.items():
        assert (
            finding_attributes(f"There is a {word} pleural effusion.")["Pleural Effusion"]["severity"]
            == grade
        )
        assert parse_severity(word).grade == grade
    compared = 0
    for phrase in LOCATION_PHRASES:
        truth = finding_attributes(f"Pleural effusion at the {phrase}.").get("Pleural Effusion", {})
        if truth.get("location"):
            assert parse_location(phrase).terms == tuple(truth["location"]), phrase
            compared += 1
    assert compared >= 20


def test_severity_answers() -> None:
    from bench.models.imt_attributes import parse_severity

    assert parse_severity("small").grade == "mild"
    assert parse_severity("Small to moderate.").grade == "moderate"  # the highest stated, as the ground truth
    assert parse_severity("large").grade == "severe"
    assert parse_severity("none").grade is None
    for bad in ("", "yes", "right", "<bin_3>"):
        with pytest.raises(AnswerParseError):
            parse_severity(bad)


# ----------------------------------------------------------------------------- prompt sets


def test_default_prompts_carry_task_and_meaning() -> None:
    prompts = PromptSet.load()
    assert prompts.meaning("attributes", "Where is {} ?") == "location"
    assert prompts.meaning("attributes", "What is the level of {} ?") == "severity"
    assert "Where is {} ?" not in prompts.templates["localization"]
    assert prompts.templates["localization"][0] == "Give the accurate bounding box of {}."
    assert prompts.asked("attributes") == ("Where is {} ?", "What is the level of {} ?")
    assert prompts.asked("report") == ("Describe the image.",)
    assert prompts.slots("report") == {
        "report": ("Describe the image.", "describe the image", "describe this image")
    }
    assert prompts.to_json()["meanings"]["localization"] == {
        "Give the accurate bounding box of {}.": "boxes",
        "Give the accurate bbox of {}.": "boxes",
    }


def test_training_wordings_are_matched() -> None:
    """The wordings OmniFM-DR trains on (joint_multi_instructs_dataset.py:454, :874, :1093-1094), lower-cased and
    with the leading space the code puts before them."""
    prompts = PromptSet.load()
    cases = {
        " give the accurate bbox of nodule.": ("Give the accurate bbox of {}.", "nodule"),
        " describe the image": ("describe the image", ""),
        "where is atelectasis?": ("Where is {} ?", "atelectasis"),
        "what is the level of effusion?": ("What is the level of {} ?", "effusion"),
        "please segment the left lung from the given image.": (
            "Please segment the {} from the given image.",
            "left lung",
        ),
    }
    templates = [t for items in prompts.templates.values() for t in items]
    for instruction, (template, target) in cases.items():
        matched = [(t, match_instruction(instruction, t)) for t in templates]
        assert [(t, found) for t, found in matched if found is not None] == [(template, target)], instruction


def test_prompt_file_meanings_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text('attributes:\n  - "Where is {} ?"\n')
    with pytest.raises(ValueError, match="needs a meaning, one of location, severity"):
        PromptSet.load(path)
    path.write_text('localization:\n  - "Where is {} ?": location\n')
    with pytest.raises(ValueError, match="needs a meaning, one of boxes"):
        PromptSet.load(path)
    path.write_text('attributes:\n  - "Where is it ?": location\n')
    with pytest.raises(ValueError, match="exactly one"):
        PromptSet.load(path)
    path.write_text('report: ["Describe the image.", "describe the image ."]\n')
    with pytest.raises(ValueError, match="are the same instruction"):
        PromptSet.load(path)
    path.write_text('localization: ["Where is {} ?"]\nattributes: null\n')
    custom = PromptSet.load(path)  # an older answers file whose "Where is" answers are boxes
    assert custom.meaning("localization", "Where is {} ?") == "boxes" and "attributes" not in custom.templates


def test_summarise_answer_meta_counts_everything() -> None:
    metas = [
        {
            "unknown_label_names": {"tortuous aorta": 1},
            "answers_per_template": {"A": 2},
            "score_type": "binary",
        },
        {"unknown_label_names": {"tortuous aorta": 1, "hernia x": 1}, "answers_superseded": {"B": 3}},
        {
            "answers_per_template": {"A": 1, "C": 1},
            "score_type": "continuous",
            "repairs": {"clipped_boxes": 1},
        },
        None,
        {"score_type": {"odd": "value"}, "repairs": "not a mapping"},  # another adapter's meta: ignored
    ]
    summary = summarise_answer_meta(metas)
    assert summary["unknown_label_names"] == {"tortuous aorta": 2, "hernia x": 1}
    assert summary["answers_per_template"] == {"A": 3, "C": 1}
    assert summary["answers_superseded"] == {"B": 3}
    assert summary["score_types"] == {"binary": 1, "continuous": 1}
    assert summary["repairs"] == {"clipped_boxes": 1}
