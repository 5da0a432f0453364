"""`hf:DIR` plumbing on a tiny ViT + GPT-2 checkpoint built here (no download).

The decoder's weights are set by hand so that greedy decoding follows a fixed chain of tokens (each source token's
embedding is a direction that the LM head maps to the next token; attention and MLP outputs are zero). The
answers are therefore known in advance, and the records the adapter returns can be checked against hand-computed
labels, pixel boxes and a pycocotools polygon.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from bench.metrics.segmentation import decode_mask
from bench.models import Sample, TaskSpec, load_model
from bench.records import Record

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
PROMPT_WORDS = [
    "what",
    "disease",
    "does",
    "this",
    "image",
    "have?",
    "where",
    "is",
    "nodule",
    "?",
    "describe",
    "the",
    "image.",
    "please",
    "segment",
    "heart",
]
ANSWER_WORDS = ["nodule,", "cardiomegaly", "normal", "heart."]
CHAINS = [  # greedy decoding continues each prompt's last token along its chain, then stops at </s>
    ["have?", "nodule,", "cardiomegaly", "</s>"],
    ["?", "<bin_100>", "<bin_200>", "<bin_300>", "<bin_400>", "</s>"],
    ["image.", "normal", "heart.", "</s>"],
    ["heart", "<bin_500>", "<bin_101>", "<bin_901>", "<bin_902>", "<bin_99>", "<bin_903>", "</s>"],
]
WIDTH, HEIGHT = 999, 1998


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import (
        GPT2Config,
        PreTrainedTokenizerFast,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
    )

    words = SPECIALS + list(dict.fromkeys(PROMPT_WORDS + ANSWER_WORDS)) + [f"<bin_{k}>" for k in range(1000)]
    vocab = {w: i for i, w in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    n_embd = 64
    encoder = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    decoder = GPT2Config(
        vocab_size=len(words),
        n_positions=64,
        n_embd=n_embd,
        n_layer=1,
        n_head=2,
        add_cross_attention=True,
        is_decoder=True,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = 1, 0, 2
    torch.manual_seed(0)
    model = VisionEncoderDecoderModel(config).eval()
    gpt = model.decoder
    with torch.no_grad():
        for name, param in gpt.named_parameters():
            if "c_proj" in name or name.endswith(("wte.weight", "wpe.weight", "lm_head.weight")):
                param.zero_()
        sources = [(a, b) for chain in CHAINS for a, b in zip(chain, chain[1:], strict=False)]
        for i, (source, target) in enumerate(sources):
            direction = torch.zeros(n_embd)
            direction[2 * i], direction[2 * i + 1] = 1.0, -1.0  # zero mean: survives the final LayerNorm
            gpt.transformer.wte.weight[vocab[source]] = direction
            gpt.lm_head.weight[vocab[target]] += 10.0 * direction
    assert gpt.lm_head.weight.data_ptr() != gpt.transformer.wte.weight.data_ptr()
    root = tmp_path_factory.mktemp("tiny-vlm")
    model.save_pretrained(root)
    tokenizer.save_pretrained(root)
    (root / "preprocessor_config.json").write_text(
        json.dumps({"size": {"height": 32, "width": 32}, "image_mean": [0.5] * 3, "image_std": [0.5] * 3})
    )
    (root / "prompts.yaml").write_text(
        'segmentation: "Please segment the {}"\nlocalization: "Where is {} ?"\n'
    )
    return root


SPEC = TaskSpec(
    tasks=("classification", "localization", "segmentation", "report"),
    labels=["Nodule", "Cardiomegaly", "Pleural Effusion"],
    box_labels=["Nodule"],
    structures=["heart", "left lung"],
)


def _samples() -> list[Sample]:
    rng = np.random.default_rng(0)
    image = {"width": WIDTH, "height": HEIGHT}
    return [
        Sample(Record(id=f"img{i}", image=image), rng.random((HEIGHT // 8, WIDTH // 8)).astype(np.float32))
        for i in range(3)
    ]


def test_answers_are_parsed_into_records(checkpoint: Path) -> None:
    model = load_model(
        f"hf:{checkpoint}", prompts=str(checkpoint / "prompts.yaml"), max_new_tokens=8, batch_size=2
    )
    records = model.predict(_samples(), SPEC)
    assert [r.id for r in records] == ["img0", "img1", "img2"]
    w, h = WIDTH, HEIGHT
    poly = [500 / 999 * w, 101 / 999 * h, 901 / 999 * w, 902 / 999 * h, 99 / 999 * w, 903 / 999 * h]
    reference = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([poly], h, w))).astype(bool)
    for rec in records:
        assert rec.labels == {"Nodule": 1.0, "Cardiomegaly": 1.0, "Pleural Effusion": 0.0}
        assert [(b.label, b.score) for b in rec.boxes] == [("Nodule", 1.0)]
        np.testing.assert_allclose(
            rec.boxes[0].bbox, [100 / 999 * w, 200 / 999 * h, 300 / 999 * w, 400 / 999 * h]
        )
        np.testing.assert_array_equal(decode_mask(rec.masks["heart"].rle()), reference)
        assert rec.report == "normal heart."
        # "left lung" is not in the tiny vocabulary: the model emits only padding -> an unparseable (empty) answer
        assert "left lung" not in rec.masks
        assert [f["reason"] for f in rec.meta["parse_failures"]] == ["empty answer"]
    assert model.parse_failures == {"Please segment the {}": 3}


def test_describe_records_settings_and_hashes(checkpoint: Path) -> None:
    model = load_model(f"hf:{checkpoint}", max_new_tokens=8, num_beams=2)
    info = model.describe()
    assert info["family"] == "vision-encoder-decoder"
    assert info["generation"] == {
        "max_new_tokens": 8,
        "do_sample": False,
        "num_beams": 2,
        "no_repeat_ngram_size": 0,
    }
    weights = checkpoint / "model.safetensors"
    assert info["checkpoint"]["weights"] == {weights.name: hashlib.sha256(weights.read_bytes()).hexdigest()}
    assert {"config.json", "tokenizer.json"} <= set(info["checkpoint"]["other_files"])
    assert info["score_type"] == "binary" and info["input_size"] == [32, 32]
    # beam search through the same chain gives the same answer
    (rec,) = model.predict(_samples()[:1], TaskSpec(tasks=("report",)))
    assert rec.report == "normal heart."


def test_preprocessing_modes_hand_computed(checkpoint: Path) -> None:
    constant = load_model(f"hf:{checkpoint}").preprocess(np.ones((50, 70), dtype=np.float32))
    assert constant.shape == (3, 32, 32)
    np.testing.assert_allclose(constant, 1.0)  # (1 - 0.5) / 0.5
    pad = load_model(f"hf:{checkpoint}", resize="pad").preprocess
    padded = pad(np.ones((16, 32), dtype=np.float32))  # centred on a 32 x 32 canvas: rows 8..23
    np.testing.assert_allclose(padded[:, 8:24], 1.0)
    np.testing.assert_allclose(padded[:, :8], -1.0)
    np.testing.assert_allclose(padded[:, 24:], -1.0)
    crop = load_model(f"hf:{checkpoint}", resize="center_crop").preprocess
    halves = np.zeros((32, 64), dtype=np.float32)
    halves[:, 32:] = 1.0
    cropped = crop(halves)  # centre square: columns 16..47
    np.testing.assert_allclose(cropped[:, :, :16], -1.0)
    np.testing.assert_allclose(cropped[:, :, 16:], 1.0)


def test_pixels_prepared_by_loader_workers_give_the_same_records(checkpoint: Path) -> None:
    model = load_model(f"hf:{checkpoint}", max_new_tokens=8)
    worker_side = pickle.loads(pickle.dumps(model.preprocess))  # what a DataLoader worker receives
    raw = _samples()[:2]
    ready = [Sample(s.record, worker_side(s.image)) for s in raw]
    spec = TaskSpec(tasks=("classification", "localization"), labels=["Nodule"], box_labels=["Nodule"])
    assert model.predict(ready, spec) == model.predict(raw, spec)


def test_missing_folder_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no config\.json.*pass hf:DIR with a local folder"):
        load_model(f"hf:{tmp_path / 'nowhere'}")


def test_needs_pixels(checkpoint: Path) -> None:
    model = load_model(f"hf:{checkpoint}", max_new_tokens=2)
    with pytest.raises(ValueError, match="needs pixels"):
        model.predict([Sample(Record(id="x"))], TaskSpec(tasks=("report",)))
