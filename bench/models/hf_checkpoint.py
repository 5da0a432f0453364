"""`hf:DIR`: a vision-language checkpoint loaded with transformers from a local folder (never downloaded).

The model is asked the prompt set's instructions (published IMT-CXR wording by default, or a YAML prompt file)
and its text answers go through the same parsers as `imt-text:` (`AnswerDecoder`). Two families:

- `vision-encoder-decoder` (e.g. ViT + GPT-2): pixels are prepared here in numpy / PIL (size, mean and std from
  `preprocessor_config.json`, else the encoder config and 0.5 / 0.5), the instruction is the decoder prefix;
- anything `AutoModelForImageTextToText` loads (LLaVA, LLaVA-NeXT, LLaVA-OneVision, Qwen2-VL, Qwen2.5-VL, Gemma 3 /
  MedGemma, Idefics3, SmolVLM, PaliGemma) with its processor (PIL image processing; `hf_families.py`), the
  instruction wrapped by the processor's chat template, or by `prompt_format` ("...{instruction}...").

The frame of the answers' `<bin_k>` coordinates is read from what the image processor does (`hf_geometry.py`),
unless `resize` says it. Checkpoints that ship their own code run only with `trust_remote_code=True`.
Decoding is greedy or beam search, never sampled; every setting that changes outputs is in `describe()`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.models.base import TASKS, ModelAdapter, Sample, TaskSpec
from bench.models.hf_families import (
    adds_bos_twice,
    chat_prompt,
    check_remote_code,
    load_processor,
    remote_code,
    remote_model_class,
)
from bench.models.hf_geometry import processor_frame
from bench.models.imt_parse import RESIZE_MODES
from bench.models.imt_text import Answer, AnswerDecoder, PromptSet, Question, file_sha256
from bench.records import Record

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5")
DTYPES = ("auto", "float32", "float16", "bfloat16")
LOCATION_TASKS = ("localization", "segmentation")  # answers in <bin_k> coordinates


@dataclass(frozen=True)
class PixelPreprocessor:
    """(H, W) float image in [0, 1] -> (C, h, w) normalised pixels, made as the resize mode says.

    Picklable and light, so the runner can run it in DataLoader workers (`model.preprocess`)."""

    resize: str
    input_size: tuple[int, int]  # (h, w)
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        from PIL import Image

        h, w = image.shape
        if self.resize == "pad":
            side = max(h, w)
            canvas = np.zeros((side, side), dtype=np.float32)
            top, left = (side - h) // 2, (side - w) // 2
            canvas[top : top + h, left : left + w] = image
            image = canvas
        elif self.resize == "center_crop":
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            image = image[top : top + side, left : left + side]
        in_h, in_w = self.input_size
        pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F")
        resized = np.asarray(pil.resize((in_w, in_h), Image.Resampling.BILINEAR), dtype=np.float32)
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]
        return (np.repeat(resized[None], len(self.mean), axis=0) - mean) / std


def _missing_checkpoint(path: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"hf:{path}: no Hugging Face checkpoint there (no config.json); pass hf:DIR with a local folder written "
        "by save_pretrained (config.json, weights, tokenizer / processor files) - checkpoints are never downloaded"
    )


def checkpoint_hashes(root: Path) -> dict[str, dict[str, str]]:
    """sha256 of every top-level file: weights apart from the rest (config, tokenizer, processor)."""
    weights: dict[str, str] = {}
    other: dict[str, str] = {}
    for entry in sorted(root.iterdir()):
        if entry.is_file():
            (weights if entry.suffix in WEIGHT_SUFFIXES else other)[entry.name] = file_sha256(entry)
    return {"weights": weights, "other_files": other}


class HfCheckpointModel(ModelAdapter):
    tasks = frozenset(TASKS)
    score_type = "binary"  # text labels are 0/1 (docs/models.md)

    def __init__(
        self,
        path: str,
        *,
        prompts: str | None = None,
        resize: str | None = None,
        unparseable_labels: str = "absent",
        device: str = "cpu",
        batch_size: int = 8,
        max_new_tokens: int = 256,
        num_beams: int = 1,
        no_repeat_ngram_size: int = 0,
        prompt_format: str | None = None,
        trust_remote_code: bool = False,
        dtype: str | None = None,
    ):
        self.root = Path(path)
        if not (self.root / "config.json").is_file():
            raise _missing_checkpoint(self.root)
        import torch
        from transformers import AutoConfig

        self.prompts = PromptSet.load(prompts)
        self.decoder = AnswerDecoder(self.prompts, resize=resize, unparseable_labels=unparseable_labels)
        self.resize_source = "argument" if resize is not None else "prompt set"
        self.frame_problem: str | None = None  # why the processor leaves the coordinate frame undefined
        self.device = torch.device(device)
        self.batch_size = batch_size
        if prompt_format is not None and prompt_format.count("{instruction}") != 1:
            raise ValueError(f"prompt_format {prompt_format!r} must contain '{{instruction}}' exactly once")
        if dtype is not None and dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
        self.prompt_format = prompt_format
        self.generation = {
            "max_new_tokens": max_new_tokens,
            "do_sample": False,
            "num_beams": num_beams,
            "no_repeat_ngram_size": no_repeat_ngram_size,
        }
        self.auto_maps = remote_code(self.root)
        self.remote_code_files: dict[str, str] | None = None
        if self.auto_maps:
            self.remote_code_files = check_remote_code(self.root, self.auto_maps, trust_remote_code)
            warnings.warn(
                f"hf:{self.root}: running the checkpoint's own code ({', '.join(self.remote_code_files) or 'none'})",
                stacklevel=2,
            )
        self.trust_remote_code = bool(self.auto_maps) and trust_remote_code
        self.load_options: dict[str, Any] = {"local_files_only": True}
        if self.trust_remote_code:
            self.load_options["trust_remote_code"] = True
        if dtype is not None:
            self.load_options["dtype"] = dtype if dtype == "auto" else getattr(torch, dtype)
        config = AutoConfig.from_pretrained(
            self.root, local_files_only=True, trust_remote_code=self.trust_remote_code
        )
        self.family = (
            "vision-encoder-decoder"
            if config.model_type == "vision-encoder-decoder"
            else "image-text-to-text"
        )
        if self.family == "vision-encoder-decoder":
            if prompt_format is not None:
                raise ValueError(
                    f"hf:{self.root}: prompt_format applies to image-text-to-text models only; a "
                    "vision-encoder-decoder model is given the bare instruction as its decoder prefix"
                )
            self._load_encoder_decoder(config)
        else:
            self._load_image_text_to_text(config)
        self.model.to(self.device).eval()
        self.hashes = checkpoint_hashes(self.root)

    # ------------------------------------------------------------------ loading

    def _load_encoder_decoder(self, config: Any) -> None:
        from transformers import AutoTokenizer, VisionEncoderDecoderModel

        self.model: Any = VisionEncoderDecoderModel.from_pretrained(self.root, **self.load_options)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(self.root, local_files_only=True)
        encoder = config.encoder
        side = int(getattr(encoder, "image_size", 224))
        pre: dict[str, Any] = {}
        pre_path = self.root / "preprocessor_config.json"
        if pre_path.is_file():
            pre = json.loads(pre_path.read_text(encoding="utf-8"))
        size = pre.get("size", side)
        if isinstance(size, dict):
            size = (size.get("height", side), size.get("width", side))
        self.input_size: tuple[int, int] | None = (
            (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
        )
        channels = int(getattr(encoder, "num_channels", 3))
        self.preprocess: PixelPreprocessor | None = PixelPreprocessor(
            self.decoder.resize,
            self.input_size,
            tuple(float(v) for v in np.resize(np.asarray(pre.get("image_mean", 0.5), dtype=float), channels)),
            tuple(float(v) for v in np.resize(np.asarray(pre.get("image_std", 0.5), dtype=float), channels)),
        )
        start = self.model.config.decoder_start_token_id
        if start is None:
            start = self.tokenizer.bos_token_id
        if start is None:
            raise ValueError(
                f"hf:{self.root}: config has no decoder_start_token_id and the tokenizer no bos token"
            )
        self.start_id = int(start)

    def _adopt_processor_geometry(self) -> None:
        """Unless `resize` was passed, map boxes back with the frame the processor really makes (hf_geometry.py):
        otherwise every coordinate would land in the wrong place; an undefined frame fails on box/mask tasks."""
        image_processor = getattr(self.processor, "image_processor", None)
        if self.resize_source == "argument" or image_processor is None:
            return
        frame = processor_frame(image_processor)
        if frame.resize is None:
            self.frame_problem, self.resize_source = frame.source, f"undefined: {frame.source}"
        else:
            self.decoder.resize, self.resize_source = frame.resize, frame.source

    def _load_image_text_to_text(self, config: Any) -> None:
        from transformers import AutoModelForImageTextToText

        model_cls = (
            remote_model_class(self.auto_maps) if self.trust_remote_code else AutoModelForImageTextToText
        )
        self.model = model_cls.from_pretrained(self.root, **self.load_options)
        self.processor = load_processor(self.root, config, trust_remote_code=self.trust_remote_code)
        self.tokenizer = self.processor.tokenizer
        self._adopt_processor_geometry()
        self.tokenizer.padding_side = "left"  # decoder-only batches are padded on the left
        if self.tokenizer.pad_token is None and self.tokenizer.eos_token is not None:
            # many LLaVA tokenizers have no pad token; left padding under the attention mask is then eos
            self.tokenizer.pad_token = self.tokenizer.eos_token
        image_token = getattr(self.processor, "image_token", None)
        if self.prompt_format is not None and image_token and image_token not in self.prompt_format:
            raise ValueError(
                f"prompt_format {self.prompt_format!r} lacks the processor's image token {image_token!r}"
            )
        self.input_size = None
        self.preprocess = None  # the processor prepares pixels from PIL images

    # ------------------------------------------------------------------ inputs

    def _strip_ids(self) -> set[int]:
        ids: set[int | None] = {
            self.tokenizer.pad_token_id,
            self.tokenizer.eos_token_id,
            self.tokenizer.bos_token_id,
        }
        # the generation config may stop on other tokens too (e.g. <|eot_id|>); they are not answer text
        gen = getattr(self.model, "generation_config", None)
        for name in ("eos_token_id", "pad_token_id", "bos_token_id"):
            value = getattr(gen, name, None)
            ids.update(value if isinstance(value, (list, tuple)) else [value])
        if self.family == "vision-encoder-decoder":
            ids.add(self.start_id)
        return {i for i in ids if i is not None}

    def prepare_inputs(self, images: list[np.ndarray], instruction: str) -> Any:
        """The processor's model inputs for one instruction asked of each image (one image per prompt)."""
        prompt = chat_prompt(self.processor, instruction, self.prompt_format)
        return self.processor(
            images=[
                [self._to_pil_rgb(im)] for im in images
            ],  # one list per prompt (Gemma 3, Idefics3, SmolVLM)
            text=[prompt] * len(images),
            add_special_tokens=not adds_bos_twice(self.tokenizer, prompt),
            return_tensors="pt",
            padding=True,
        ).to(self.device)

    def generate(self, images: list[np.ndarray], instruction: str) -> list[str]:
        """Raw answers of the model to one instruction for each image."""
        import torch

        strip = self._strip_ids()
        with torch.inference_mode():
            if self.family == "vision-encoder-decoder":
                preprocess = self.preprocess
                assert preprocess is not None  # _load_encoder_decoder sets it for this family
                # 2-D: raw pixels; 3-D: already made by `self.preprocess` in the runner's loader workers
                ready = [im if im.ndim == 3 else preprocess(im) for im in images]
                pixels = torch.from_numpy(np.stack(ready)).to(self.device)
                prefix = [self.start_id, *self.tokenizer(instruction, add_special_tokens=False).input_ids]
                prompt = torch.tensor([prefix] * len(images), device=self.device)
                out = self.model.generate(pixel_values=pixels, decoder_input_ids=prompt, **self.generation)
            else:
                inputs = self.prepare_inputs(images, instruction)
                inputs.pop("labels", None)  # PaliGemmaProcessor adds training labels; generation needs none
                if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
                    inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
                out = self.model.generate(**inputs, **self.generation)
                prompt = inputs["input_ids"]
        new_tokens = out[:, prompt.shape[1] :].tolist()
        return [
            self.tokenizer.decode([t for t in row if t not in strip], skip_special_tokens=False).strip()
            for row in new_tokens
        ]

    @staticmethod
    def _to_pil_rgb(image: np.ndarray) -> Any:
        from PIL import Image

        return Image.fromarray(np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8), mode="L").convert(
            "RGB"
        )

    # ------------------------------------------------------------------ adapter

    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        tasks = [task for task in TASKS if task in spec.tasks]
        if self.frame_problem and any(task in LOCATION_TASKS for task in tasks):
            raise ValueError(
                f"hf:{self.root}: {self.frame_problem}; pass --option resize=({'|'.join(RESIZE_MODES)}) to say "
                "which image frame its <bin_k> coordinates use"
            )
        pixels: list[np.ndarray] = []
        for sample in batch:
            if sample.image is None:
                raise ValueError(f"hf:{self.root} needs pixels but sample {sample.record.id!r} has none")
            pixels.append(sample.image)
        questions = [
            q for task in tasks for q in AnswerDecoder.questions(self.prompts.templates[task][0], task, spec)
        ]
        answers: list[dict[Question, Answer]] = [{} for _ in batch]
        for question in questions:
            instruction = self.prompts.instruction(question.template, question.target)
            for start in range(0, len(batch), self.batch_size):
                texts = self.generate(pixels[start : start + self.batch_size], instruction)
                for offset, text in enumerate(texts):
                    answers[start + offset][question] = Answer(text, self.input_size)
        return [self.decoder.to_record(s, spec, tasks, a) for s, a in zip(batch, answers, strict=True)]

    @property
    def parse_failures(self) -> dict[str, int]:
        return dict(sorted(self.decoder.failures.items()))

    def describe(self) -> dict[str, Any]:
        import transformers

        processor = getattr(self, "processor", None)
        summary = self.decoder.summary()
        if self.frame_problem:
            summary["resize"] = None
        return {
            "spec": f"hf:{self.root}",
            "family": self.family,
            "model_class": type(self.model).__name__,
            "processor_class": type(processor).__name__ if processor is not None else None,
            "image_processor_class": type(getattr(processor, "image_processor", None)).__name__
            if processor is not None
            else None,
            "checkpoint": {"path": str(self.root), **self.hashes},
            "remote_code": {"auto_map": self.auto_maps, "files": self.remote_code_files}
            if self.auto_maps
            else None,
            "generation": dict(self.generation),
            "device": str(self.device),
            "dtype": str(self.model.dtype),
            "input_size": list(self.input_size) if self.input_size else None,
            "prompt_format": self.prompt_format,
            "score_type": self.score_type,
            "prompts": self.prompts.to_json(),
            "coordinates": {
                "bins": 1000,
                "bin_to_coordinate": "c = k / 999",
                "resize": None if self.frame_problem else self.decoder.resize,
                "resize_source": self.resize_source,
            },
            "transformers": transformers.__version__,
            **summary,
        }
