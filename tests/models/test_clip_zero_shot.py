"""`clip:DIR` on tiny CLIP and SigLIP checkpoints built here from configs (seeded random weights, offline).

Every score is checked against a computation done here directly with the transformers model: each prompt
embedded on its own (no batch padding), the pixels made by hand in numpy, the pair softmax in numpy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bench.datasets.vocabulary import VOCABULARY
from bench.models import Sample, TaskSpec, load_model
from bench.records import Record, read_records

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SPECIALS = [
    "<pad>",
    "<unk>",
    "<s>",
    "</s>",
]  # eos id 3: CLIP pools the first eos (not the legacy id-2 argmax)
EXTRA_WORDS = ["no", "evidence", "of", "findings", "suggesting", "or", "pulmonary", "artery"]
SIDE = 16  # the processors' input: images of this size pass resize and crop unchanged
CLIP_MEAN = np.array(
    [0.48145466, 0.4578275, 0.40821073]
)  # OPENAI_CLIP_MEAN / _STD of transformers.image_utils
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])
LABELS = ["Pleural Effusion", "Nodule", "Cardiomegaly", "Enlarged PA"]


def _vocab() -> dict[str, int]:
    words = [w for name in VOCABULARY for w in name.lower().replace("/", " ").split()]
    return {w: i for i, w in enumerate(dict.fromkeys(SPECIALS + EXTRA_WORDS + words))}


def _tokenizer(vocab: dict[str, int], template: str):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    specials = [(t, vocab[t]) for t in ("<s>", "</s>") if t in template]
    backend.post_processor = processors.TemplateProcessing(single=template, special_tokens=specials)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


def _tower(**extra: int) -> dict[str, int]:
    return dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, **extra)


def _save_clip(root: Path) -> Path:
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor
    from transformers.models.clip import CLIPImageProcessorPil

    vocab = _vocab()
    ids = dict(bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"], pad_token_id=vocab["<pad>"])
    config = CLIPConfig(
        text_config=_tower(vocab_size=len(vocab), max_position_embeddings=16, **ids),
        vision_config=_tower(image_size=SIDE, patch_size=8),
        projection_dim=8,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(root)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": SIDE}, crop_size={"height": SIDE, "width": SIDE}
    )
    CLIPProcessor(
        image_processor=image_processor, tokenizer=_tokenizer(vocab, "<s> $A </s>")
    ).save_pretrained(root)
    return root


def _save_siglip(root: Path) -> Path:
    from transformers import SiglipConfig, SiglipModel, SiglipProcessor
    from transformers.models.siglip import SiglipImageProcessorPil

    vocab = _vocab()
    ids = dict(bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"], pad_token_id=vocab["<pad>"])
    config = SiglipConfig(
        text_config=_tower(vocab_size=len(vocab), max_position_embeddings=64, projection_size=16, **ids),
        vision_config=_tower(image_size=SIDE, patch_size=8),
    )
    torch.manual_seed(1)
    model = SiglipModel(config)
    with torch.no_grad():  # the init zeroes them; a bias that must cancel and a scale that must not
        model.logit_scale.fill_(1.5)
        model.logit_bias.fill_(-3.0)
    model.save_pretrained(root)
    image_processor = SiglipImageProcessorPil(size={"height": SIDE, "width": SIDE})
    SiglipProcessor(image_processor=image_processor, tokenizer=_tokenizer(vocab, "$A </s>")).save_pretrained(
        root
    )
    return root


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_siglip(tmp_path_factory.mktemp("tiny-siglip"))


@pytest.fixture(scope="module")
def reference(clip_dir: Path):
    from transformers import AutoTokenizer, CLIPModel

    return CLIPModel.from_pretrained(clip_dir).eval(), AutoTokenizer.from_pretrained(clip_dir)


def _samples(n: int, height: int = SIDE, width: int = SIDE, seed: int = 0) -> list[Sample]:
    rng = np.random.default_rng(seed)
    info = {"width": width, "height": height}
    return [
        Sample(Record(id=f"img{i}", image=info), rng.random((height, width)).astype(np.float32))
        for i in range(n)
    ]


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def _text(model, tokenizer, text: str, siglip: bool = False) -> np.ndarray:
    """One prompt on its own: no batch padding (CLIP); SigLIP padded to 64 with no attention mask."""
    if siglip:
        ids = tokenizer(text, padding="max_length", max_length=64, return_tensors="pt")["input_ids"]
        inputs = {"input_ids": ids}
    else:
        inputs = dict(tokenizer(text, return_tensors="pt"))
    with torch.no_grad():
        return _unit(model.get_text_features(**inputs).pooler_output[0].numpy())


def _pixels(image: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """By hand: 8-bit grey, replicated to RGB, rescaled by 1/255, normalised (resize and crop: identities)."""
    grey = np.round(np.clip(image, 0, 1) * 255) / 255
    return ((grey[None] - mean[:, None, None]) / std[:, None, None]).astype(np.float32)


def _images(model, samples: list[Sample], mean=CLIP_MEAN, std=CLIP_STD) -> np.ndarray:
    pixels = torch.from_numpy(np.stack([_pixels(s.image, mean, std) for s in samples]))
    with torch.no_grad():
        return _unit(model.get_image_features(pixel_values=pixels).pooler_output.numpy())


def _pair_softmax(
    image: np.ndarray, positive: np.ndarray, negative: np.ndarray, scale: float = 1.0
) -> np.ndarray:
    logits = scale * np.stack([(image * positive).sum(-1), (image * negative).sum(-1)], axis=-1)
    exp = np.exp(logits)
    return exp[..., 0] / exp.sum(axis=-1)


def _scores(records: list[Record], labels: list[str]) -> np.ndarray:
    return np.array([[r.labels[name] for name in labels] for r in records])


# ---------------------------------------------------------------------------------------------- scores


@pytest.mark.parametrize("logit_scale", [False, True])
def test_scores_are_chexzero_pair_softmax(clip_dir: Path, reference, logit_scale: bool) -> None:
    model, tokenizer = reference
    samples = _samples(5)
    records = load_model(f"clip:{clip_dir}", logit_scale=logit_scale).predict(
        samples, TaskSpec(("classification",), LABELS)
    )
    assert [r.id for r in records] == [s.record.id for s in samples]
    assert [r.image.width for r in records] == [SIDE] * 5
    # the default prompt set: CheXzero's ("{}", "no {}") with the lower-cased name, or the YAML's override
    names = ["pleural effusion", "nodule", "cardiomegaly", "enlarged pulmonary artery"]
    positive = np.stack([_text(model, tokenizer, name) for name in names])
    negative = np.stack([_text(model, tokenizer, f"no {name}") for name in names])
    scale = float(model.logit_scale.detach().exp()) if logit_scale else 1.0  # CheXzero uses raw cosines
    expected = _pair_softmax(_images(model, samples)[:, None, :], positive, negative, scale)
    got = _scores(records, LABELS)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert np.ptp(got, axis=0).min() > 1e-4 and np.ptp(got, axis=1).min() > 1e-4  # images and labels differ


def test_processor_resizes_and_crops_other_sizes(clip_dir: Path, reference) -> None:
    from PIL import Image

    model, tokenizer = reference
    samples = _samples(3, height=40, width=60, seed=3)
    adapter = load_model(f"clip:{clip_dir}")
    got = _scores(adapter.predict(samples, TaskSpec(("classification",), ["Nodule"])), ["Nodule"])[:, 0]
    processor = transformers.AutoImageProcessor.from_pretrained(clip_dir, backend="pil")
    pil = [Image.fromarray(np.round(s.image * 255).astype(np.uint8)).convert("RGB") for s in samples]
    pixels = processor(images=pil, return_tensors="pt")["pixel_values"]
    assert tuple(pixels.shape[-2:]) == (SIDE, SIDE)  # shortest side to 16, then the centre 16 x 16
    with torch.no_grad():
        image = _unit(model.get_image_features(pixel_values=pixels).pooler_output.numpy())
    expected = _pair_softmax(image, _text(model, tokenizer, "nodule"), _text(model, tokenizer, "no nodule"))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    settings = adapter.describe()["image_processor"]
    assert settings["class"] == "CLIPImageProcessorPil" and settings["resample"] == "bicubic"
    assert settings["size"] == {"shortest_edge": SIDE} and settings["crop_size"] == {
        "height": SIDE,
        "width": SIDE,
    }
    assert settings["do_center_crop"] is True and settings["image_mean"] == pytest.approx(CLIP_MEAN)


def test_batch_size_one_and_four_give_the_same_scores(clip_dir: Path) -> None:
    samples = _samples(7, seed=5)
    spec = TaskSpec(("classification",), LABELS)
    one = load_model(f"clip:{clip_dir}", batch_size=1).predict(samples, spec)
    four = load_model(f"clip:{clip_dir}", batch_size=4).predict(samples, spec)
    assert [r.id for r in one] == [r.id for r in four] == [s.record.id for s in samples]
    # equal to float32 round-off: CPU GEMMs sum in an order that depends on the batch shape (~1e-9 here);
    # a misplaced image would be off by > 1e-3 (the scores differ that much between images)
    np.testing.assert_allclose(_scores(one, LABELS), _scores(four, LABELS), rtol=0, atol=1e-7)
    assert np.ptp(_scores(one, LABELS), axis=0).min() > 1e-3
    # the same batch size twice gives bit-identical records (the runner fixes every chunk's composition)
    assert load_model(f"clip:{clip_dir}", batch_size=4).predict(samples, spec) == four


def test_prompt_ensemble_averages_normalised_embeddings(clip_dir: Path, reference, tmp_path: Path) -> None:
    model, tokenizer = reference
    prompts = tmp_path / "ensemble.yaml"
    prompts.write_text(
        'positive: ["{}", "findings suggesting {}"]\n'
        'negative: ["no {}", "no evidence of {}", "no findings of {}"]\n'
        'label_prompts:\n  Edema: {positive: "pulmonary edema", negative: ["no {}"]}\n'
    )
    samples = _samples(4, seed=7)
    labels = ["Nodule", "Edema"]
    adapter = load_model(f"clip:{clip_dir}", prompts=str(prompts))
    got = _scores(adapter.predict(samples, TaskSpec(("classification",), labels)), labels)

    def side(texts: list[str]) -> np.ndarray:
        return _unit(np.mean([_text(model, tokenizer, t) for t in texts], axis=0))

    positive = np.stack([side(["nodule", "findings suggesting nodule"]), side(["pulmonary edema"])])
    negative = np.stack(
        [side(["no nodule", "no evidence of nodule", "no findings of nodule"]), side(["no edema"])]
    )
    expected = _pair_softmax(_images(model, samples)[:, None, :], positive, negative)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    single = _scores(
        load_model(f"clip:{clip_dir}").predict(samples, TaskSpec(("classification",), labels)), labels
    )
    assert np.abs(single[:, 0] - got[:, 0]).max() > 1e-4  # the ensemble really changed the Nodule score
    texts = adapter.describe()["prompts"]["texts"]
    assert texts["Edema"] == {"positive": ["pulmonary edema"], "negative": ["no edema"]}
    assert texts["Nodule"]["negative"] == ["no nodule", "no evidence of nodule", "no findings of nodule"]


def test_text_embeddings_are_computed_once_per_label_set(
    clip_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = load_model(f"clip:{clip_dir}", batch_size=2)
    calls = []
    original = adapter.model.get_text_features
    monkeypatch.setattr(adapter.model, "get_text_features", lambda **kw: calls.append(kw) or original(**kw))
    spec = TaskSpec(("classification",), LABELS)
    first = adapter.predict(_samples(3), spec)
    assert len(calls) == 1 and len(calls[0]["input_ids"]) == 2 * len(LABELS)  # all prompts, one forward
    assert adapter.predict(_samples(3), TaskSpec(("classification",), list(LABELS))) == first
    assert len(calls) == 1
    adapter.predict(_samples(3), TaskSpec(("classification",), LABELS[:2]))
    assert len(calls) == 2
    info = adapter.describe()
    assert info["label_sets_embedded"] == 2 and info["images_scored"] == 9


def test_siglip_uses_the_pair_with_64_token_unmasked_text(siglip_dir: Path) -> None:
    from transformers import AutoTokenizer, SiglipModel

    model, tokenizer = (
        SiglipModel.from_pretrained(siglip_dir).eval(),
        AutoTokenizer.from_pretrained(siglip_dir),
    )
    samples = _samples(4, seed=11)
    labels = ["Pneumothorax", "Nodule/Mass"]
    half = np.full(3, 0.5)
    image = _images(model, samples, mean=half, std=half)[:, None, :]
    names = ["pneumothorax", "nodule or mass"]
    positive = np.stack([_text(model, tokenizer, n, siglip=True) for n in names])
    negative = np.stack([_text(model, tokenizer, f"no {n}", siglip=True) for n in names])
    for use_scale, scale in ((False, 1.0), (True, float(np.exp(1.5)))):  # logit_bias -3.0 cancels in the pair
        adapter = load_model(f"clip:{siglip_dir}", logit_scale=use_scale)
        got = _scores(adapter.predict(samples, TaskSpec(("classification",), labels)), labels)
        np.testing.assert_allclose(got, _pair_softmax(image, positive, negative, scale), rtol=0, atol=1e-6)
    info = adapter.describe()
    assert info["model_type"] == "siglip" and info["protocol"]["logit_scale"] == pytest.approx(np.exp(1.5))
    assert (
        info["text_tokenization"]["padding"] == "max_length" and info["text_tokenization"]["max_length"] == 64
    )
    assert info["text_tokenization"]["inputs"] == ["input_ids"]
    # with the attention mask the pooled last (padding) position would read other values: the choice matters
    masked = dict(tokenizer("pneumothorax", padding="max_length", max_length=64, return_tensors="pt"))
    with torch.no_grad():
        with_mask = _unit(model.get_text_features(**masked).pooler_output[0].numpy())
    assert np.abs(with_mask - positive[0]).max() > 1e-4


def test_dtype_bfloat16_is_close_to_float32(clip_dir: Path) -> None:
    samples, spec = _samples(3), TaskSpec(("classification",), LABELS)
    full = _scores(load_model(f"clip:{clip_dir}").predict(samples, spec), LABELS)
    adapter = load_model(f"clip:{clip_dir}", dtype="bfloat16")
    half = _scores(adapter.predict(samples, spec), LABELS)
    assert adapter.describe()["dtype"] == "torch.bfloat16"
    np.testing.assert_allclose(half, full, atol=0.02)


def test_describe_records_checkpoint_prompts_and_protocol(clip_dir: Path) -> None:
    adapter = load_model(f"clip:{clip_dir}", batch_size=3)
    adapter.predict(_samples(2), TaskSpec(("classification",), ["Pleural Effusion"]))
    info = adapter.describe()
    json.dumps(info)  # JSON-ready
    assert info["spec"] == f"clip:{clip_dir}" and info["model_class"] == "CLIPModel"
    weights = clip_dir / "model.safetensors"
    assert info["checkpoint"]["weights"] == {weights.name: hashlib.sha256(weights.read_bytes()).hexdigest()}
    for name in ("config.json", "tokenizer.json", "processor_config.json"):
        assert (
            info["checkpoint"]["other_files"][name]
            == hashlib.sha256((clip_dir / name).read_bytes()).hexdigest()
        )
    default = Path(__file__).resolve().parents[2] / "bench" / "models" / "prompts" / "clip_chexzero.yaml"
    prompts = info["prompts"]
    assert prompts["source"] == str(default)
    assert prompts["sha256"] == hashlib.sha256(default.read_bytes()).hexdigest()
    assert (prompts["positive"], prompts["negative"], prompts["lowercase"]) == (["{}"], ["no {}"], True)
    assert prompts["texts"]["Pleural Effusion"] == {
        "positive": ["pleural effusion"],
        "negative": ["no pleural effusion"],
    }
    assert set(VOCABULARY) <= set(prompts["texts"])
    protocol = info["protocol"]
    assert protocol["name"] == "softmax over positive/negative pair" and protocol["logit_scale"] == 1.0
    assert "CheXzero" in protocol["source"] and info["score_type"] == "continuous"
    assert (info["batch_size"], info["dtype"], info["images_scored"]) == (3, "torch.float32", 2)
    assert adapter.tasks == frozenset({"classification"})


# ---------------------------------------------------------------------------------------------- errors

BAD_PROMPTS = [
    ("positive: '{}'\nnegativ: 'no {}'\n", r"unknown key\(s\) \['negativ'\]"),
    ("positive: 'finding'\n", r"positive template 'finding' must contain exactly one \{\}"),
    ("negative: ['no {}', 'no {} or {}']\n", r"negative template 'no \{\} or \{\}' must contain exactly one"),
    ("positive: []\n", "positive must be a template string or a non-empty list"),
    ("lowercase: maybe\n", "lowercase must be true or false"),
    (
        "label_names: {Pleural Efusion: effusion}\n",
        r"label_names names \['Pleural Efusion'\], not cxrbench vocabulary",
    ),
    ("label_names: {Nodule: ''}\n", r"label_names\['Nodule'\] must be a non-empty string"),
    (
        "label_prompts: {Nodule: {positive: '{}'}}\n",
        "must be a mapping with exactly the keys positive, negative",
    ),
    ("label_prompts: {Nodule: {positive: '{} {}', negative: x}}\n", "must contain at most one"),
    ("- positive\n", "a prompt file is a YAML mapping"),
    ("positive: [unclosed\n", "not valid YAML at line"),
]


@pytest.mark.parametrize(("text", "message"), BAD_PROMPTS)
def test_bad_prompt_files_are_refused_naming_the_file(
    clip_dir: Path, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "prompts.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        load_model(f"clip:{clip_dir}", prompts=str(path))
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_missing_prompt_file_and_checkpoint(clip_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml: prompt file not found"):
        load_model(f"clip:{clip_dir}", prompts=str(tmp_path / "nope.yaml"))
    with pytest.raises(FileNotFoundError, match=r"no Hugging Face checkpoint there \(no config.json\)"):
        load_model(f"clip:{tmp_path / 'absent'}")
    with pytest.raises(ValueError, match="dtype 'float8' is not one of"):
        load_model(f"clip:{clip_dir}", dtype="float8")
    with pytest.raises(ValueError, match="batch_size 0 must be at least 1"):
        load_model(f"clip:{clip_dir}", batch_size=0)


def test_a_vision_only_checkpoint_is_not_a_dual_encoder(tmp_path: Path) -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    CLIPVisionModel(CLIPVisionConfig(**_tower(image_size=SIDE, patch_size=8))).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="CLIPVisionModel is not a CLIP-style dual encoder"):
        load_model(f"clip:{tmp_path}")


def test_a_checkpoint_without_processor_files_is_refused(clip_dir: Path, tmp_path: Path) -> None:
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((clip_dir / name).read_bytes())
    with pytest.raises(FileNotFoundError, match="no processor could be loaded from the folder"):
        load_model(f"clip:{tmp_path}")


def test_too_long_prompt_is_refused(clip_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text("positive: '" + "no " * 20 + "{}'\n")
    adapter = load_model(f"clip:{clip_dir}", prompts=str(path))
    with pytest.raises(ValueError, match=r"tokens, more than the text encoder's 16; shorten it"):
        adapter.predict(_samples(1), TaskSpec(("classification",), ["Nodule"]))


# ---------------------------------------------------------------------------------------------- end to end


def test_run_on_demo_data_scores_auc_of_the_predictions(clip_dir: Path, tmp_path: Path) -> None:
    from bench.datasets.demo import write_demo
    from bench.run.runner import run
    from bench.run.score import ScoreSettings

    root = write_demo(tmp_path / "demo", names=["chestxray14"], n=60, seed=0, workers=1)["chestxray14"]
    out = tmp_path / "run"
    settings = ScoreSettings(n_boot=20, seed=0, meteor=False)
    outcome = run(
        f"clip:{clip_dir}", "chestxray14", root, "test", out_dir=out, batch_size=4, workers=0,
        settings=settings, progress=False,
    )  # fmt: skip
    assert outcome.tasks == ["classification"]  # the dataset's boxes are not asked of a classifier
    gt = {r.id: r for _, r in read_records(out / "gt.jsonl", "gt")}
    pred = {r.id: r for _, r in read_records(out / "predictions.jsonl", "pred")}
    assert list(pred) == list(gt) and len(gt) >= 20
    results = json.loads((out / "results" / "classification.json").read_text())
    expected = {}
    for label in results["per_label"]["auc"]:
        known = [i for i in gt if gt[i].labels.get(label) is not None]
        truth = [gt[i].labels[label] for i in known]
        if 0 < sum(truth) < len(truth):  # AUC is undefined with one class (null in the results)
            expected[label] = roc_auc_score(truth, [pred[i].labels[label] for i in known])
    assert len(expected) >= 5
    assert results["per_label"]["auc"] == pytest.approx(
        {k: expected.get(k) for k in results["per_label"]["auc"]}
    )
    assert results["metrics"]["auc_macro"]["value"] == pytest.approx(np.mean(list(expected.values())))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["notes"]["score_type"] == "continuous"
    assert manifest["model"]["protocol"]["name"] == "softmax over positive/negative pair"
