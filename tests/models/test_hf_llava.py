"""`hf:DIR` plumbing on tiny LLaVA checkpoints (CLIP vision tower + Llama) built here from configs (no download).

Two checkpoints share one word-level tokenizer and one `LlavaProcessor` (PIL CLIP image processor, 16 px input):

- "chain": the Llama's attention and MLP outputs are zeroed and each source token's embedding is a direction that
  the LM head maps to the next token, so greedy decoding continues the prompt's last token along a fixed chain
  and the records can be checked against hand-computed labels, pixel boxes and a pycocotools polygon;
- "random": seeded random weights and a tokenizer without a pad token, for the batching and accounting checks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from bench.metrics.segmentation import decode_mask
from bench.models import Sample, TaskSpec, load_model
from bench.records import Record

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>", "<eot>"]
WORDS = [
    "user:",
    "assistant:",
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
    "left",
    "lung",
    "nodule,",
    "cardiomegaly",
    "normal",
    "heart.",
]
PROMPT_FORMAT = "USER: <image>\n{instruction}"
# the chat template ends every prompt with "ASSISTANT:" (add_generation_prompt), whatever the instruction
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | upper }}: {% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>\n{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %} ASSISTANT:{% endif %}"
)
CHAINS = [  # greedy decoding continues each prompt's last token along its chain, then stops at </s> or <eot>
    ["have?", "nodule,", "cardiomegaly", "<eot>"],  # <eot>: a second eos id of the generation config
    ["?", "<bin_100>", "<bin_200>", "<bin_300>", "<bin_400>", "</s>"],
    ["image.", "normal", "heart.", "</s>"],
    ["heart", "<bin_500>", "<bin_101>", "<bin_901>", "<bin_902>", "<bin_99>", "<bin_903>", "</s>"],
    ["lung", "<bin_5>", "</s>"],  # one coordinate: not a polygon
    ["assistant:", "<bin_10>", "<bin_20>", "<bin_30>", "<bin_40>", "</s>"],
]
WIDTH, HEIGHT = 60, 40
SPEC = TaskSpec(
    tasks=("classification", "localization", "segmentation", "report"),
    labels=["Nodule", "Cardiomegaly", "Pleural Effusion"],
    box_labels=["Nodule"],
    structures=["heart", "left lung"],
)


def _tokenizer(vocab: dict[str, int], with_pad: bool):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    if with_pad:
        specials["pad_token"] = "<pad>"
    # an added token, so the processor's run of image tokens ("<image><image>...") is split into ids
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, extra_special_tokens={"image_token": "<image>"}, **specials
    )


def _save(root: Path, vocab: dict[str, int], *, chain: bool) -> Path:
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip import CLIPImageProcessorPil

    hidden = 64
    vision = CLIPVisionConfig(
        image_size=16,
        patch_size=8,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
    )
    text = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"] if chain else None,
        tie_word_embeddings=False,
    )
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_id=vocab["<image>"], vision_feature_layer=-1
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).eval()
    if chain:
        sources = [(a, b) for c in CHAINS for a, b in zip(c, c[1:], strict=False)]
        assert len({a for a, _ in sources}) == len(sources) and 2 * len(sources) <= hidden
        embed, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "language_model" in name and name.endswith(("o_proj.weight", "down_proj.weight")):
                    param.zero_()
            embed.zero_()
            head.zero_()
            for i, (source, target) in enumerate(sources):
                direction = torch.zeros(hidden)
                direction[2 * i], direction[2 * i + 1] = 1.0, -1.0
                embed[vocab[source]] = direction
                head[vocab[target]] += 10.0 * direction
        model.generation_config.eos_token_id = [vocab["</s>"], vocab["<eot>"]]
    model.save_pretrained(root)
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(
            size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}
        ),
        tokenizer=_tokenizer(vocab, with_pad=chain),
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's class token, dropped by the "default" strategy
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(root)
    (root / "prompts.yaml").write_text(
        'segmentation: "Please segment the {}"\nlocalization: "Where is {} ?"\nresize: center_crop\n'
    )
    return root


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    words = SPECIALS + list(dict.fromkeys(WORDS)) + [f"<bin_{k}>" for k in range(1000)]
    vocab = {w: i for i, w in enumerate(words)}
    return {
        kind: _save(tmp_path_factory.mktemp(f"tiny-llava-{kind}"), vocab, chain=kind == "chain")
        for kind in ("chain", "random")
    }


def _samples(n: int = 3) -> list[Sample]:
    rng = np.random.default_rng(0)
    image = {"width": WIDTH, "height": HEIGHT}
    return [
        Sample(Record(id=f"img{i}", image=image), rng.random((HEIGHT, WIDTH)).astype(np.float32))
        for i in range(n)
    ]


def _center_crop_px(k: int, size: int) -> float:
    """`<bin_k>` -> pixels of the original image under CLIP's centre crop (docs/models.md)."""
    side = min(WIDTH, HEIGHT)
    return k / 999 * side + (size - side) / 2


def test_prompt_format_answers_are_parsed_into_records(checkpoints: dict[str, Path]) -> None:
    root = checkpoints["chain"]
    model = load_model(
        f"hf:{root}",
        prompts=str(root / "prompts.yaml"),
        prompt_format=PROMPT_FORMAT,
        max_new_tokens=8,
        batch_size=2,
    )
    records = model.predict(_samples(), SPEC)
    assert [r.id for r in records] == ["img0", "img1", "img2"]
    box = [_center_crop_px(100, WIDTH), _center_crop_px(200, HEIGHT)]
    box += [_center_crop_px(300, WIDTH), _center_crop_px(400, HEIGHT)]
    bins = [(500, 101), (901, 902), (99, 903)]
    poly = [v for kx, ky in bins for v in (_center_crop_px(kx, WIDTH), _center_crop_px(ky, HEIGHT))]
    reference = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([poly], HEIGHT, WIDTH))).astype(bool)
    assert reference.any()
    for rec in records:
        # "nodule, cardiomegaly <eot>": the generation config's second eos id is not part of the answer
        assert rec.labels == {"Nodule": 1.0, "Cardiomegaly": 1.0, "Pleural Effusion": 0.0}
        assert [(b.label, b.score) for b in rec.boxes] == [("Nodule", 1.0)]
        np.testing.assert_allclose(rec.boxes[0].bbox, box)
        np.testing.assert_array_equal(decode_mask(rec.masks["heart"].rle()), reference)
        assert rec.report == "normal heart."
        assert "left lung" not in rec.masks  # "<bin_5>": counted, no mask invented
        (failure,) = rec.meta["parse_failures"]
        assert failure["instruction"] == "Please segment the left lung" and failure["answer"] == "<bin_5>"
    assert model.parse_failures == {"Please segment the {}": 3}


def test_chat_template_wraps_every_instruction(checkpoints: dict[str, Path]) -> None:
    # every prompt ends in " ASSISTANT:", so every question gets the same four location tokens
    model = load_model(
        f"hf:{checkpoints['chain']}", max_new_tokens=8
    )  # geometry taken from the CLIP processor
    coordinates = model.describe()["coordinates"]
    assert (coordinates["resize"], coordinates["resize_source"]) == (
        "center_crop",
        "processor (CLIPImageProcessorPil: shortest edge to 16, centre crop 16 x 16)",
    )
    stretched = load_model(f"hf:{checkpoints['chain']}", resize="stretch", max_new_tokens=8)
    assert stretched.describe()["coordinates"]["resize_source"] == "argument"
    records = model.predict(_samples(2), SPEC)
    box = [_center_crop_px(10, WIDTH), _center_crop_px(20, HEIGHT)]
    box += [_center_crop_px(30, WIDTH), _center_crop_px(40, HEIGHT)]
    for rec in records:
        np.testing.assert_allclose([b.bbox for b in rec.boxes], [box])
        assert rec.report == "<bin_10> <bin_20> <bin_30> <bin_40>"
        assert rec.labels is None  # unparseable label answer: no values, never a default
        assert rec.masks == {}
        reasons = {f["template"]: f["answer"] for f in rec.meta["parse_failures"]}
        assert set(reasons) == {
            "What disease does this image have?",
            "Please segment the {} from the given image.",
        }
        assert set(reasons.values()) == {"<bin_10> <bin_20> <bin_30> <bin_40>"}
    assert model.parse_failures == {
        "Please segment the {} from the given image.": 4,
        "What disease does this image have?": 2,
    }


def test_describe_records_settings_and_hashes(checkpoints: dict[str, Path]) -> None:
    root = checkpoints["chain"]
    model = load_model(f"hf:{root}", prompt_format=PROMPT_FORMAT, max_new_tokens=8, num_beams=2)
    info = model.describe()
    assert info["family"] == "image-text-to-text"
    assert info["model_class"] == "LlavaForConditionalGeneration"
    assert info["generation"] == {
        "max_new_tokens": 8,
        "do_sample": False,
        "num_beams": 2,
        "no_repeat_ngram_size": 0,
    }
    weights = root / "model.safetensors"
    assert info["checkpoint"]["weights"] == {weights.name: hashlib.sha256(weights.read_bytes()).hexdigest()}
    other = info["checkpoint"]["other_files"]
    for name in ("config.json", "tokenizer.json", "processor_config.json", "chat_template.jinja"):
        assert other[name] == hashlib.sha256((root / name).read_bytes()).hexdigest()
    assert info["prompt_format"] == PROMPT_FORMAT and info["device"] == "cpu"
    assert info["dtype"] == "torch.float32" and info["input_size"] is None
    # beam search through the same chain gives the same answer
    (rec,) = model.predict(_samples(1), TaskSpec(tasks=("report",)))
    assert rec.report == "normal heart."


def test_random_model_batches_align_and_every_answer_is_accounted(checkpoints: dict[str, Path]) -> None:
    root = checkpoints["random"]  # its tokenizer has no pad token: batches are padded with eos
    samples = _samples(3)
    batched = load_model(f"hf:{root}", max_new_tokens=6, batch_size=3)
    single = load_model(f"hf:{root}", max_new_tokens=6, batch_size=1)
    records = batched.predict(samples, SPEC)
    assert [r.id for r in records] == [s.record.id for s in samples]
    assert records == single.predict(samples, SPEC)  # image i's answer stays with image i
    # the tower sees the pixels: not every image gets the same answers
    assert len({r.report for r in records}) > 1
    n_questions = 1 + len(SPEC.box_labels) + len(SPEC.structures) + 1
    info = batched.describe()
    assert info["answers_parsed"] == len(samples) * n_questions
    failures = [f for r in records for f in (r.meta or {}).get("parse_failures", [])]
    assert sum(info["parse_failures"].values()) == len(failures)
    for rec in records:
        failed = {f["instruction"] for f in (rec.meta or {}).get("parse_failures", [])}
        assert (rec.labels is None) == ("What disease does this image have?" in failed)
        for structure in SPEC.structures:
            instruction = f"Please segment the {structure} from the given image."
            assert not (instruction in failed and structure in (rec.masks or {}))
        assert ("Give the accurate bounding box of Nodule." in failed) <= (rec.boxes == [])
        assert isinstance(rec.report, str)


def test_prompt_format_is_checked(checkpoints: dict[str, Path]) -> None:
    root = checkpoints["chain"]
    with pytest.raises(ValueError, match=r"must contain '\{instruction\}'"):
        load_model(f"hf:{root}", prompt_format="USER: <image>\n")
    with pytest.raises(ValueError, match="lacks the processor's image token '<image>'"):
        load_model(f"hf:{root}", prompt_format="USER: {instruction}")
