"""Loading and prompting the vision-language families `hf:DIR` supports, offline and without torchvision.

- Processors are loaded with their PIL image processor; a video processor (Qwen2-VL, Qwen2.5-VL, SmolVLM,
  LLaVA-OneVision) needs torchvision, which this project does not install, so it is left out (images only).
- Prompts: the processor's chat template, else PaliGemma's own layout, else `<image>\\n{instruction}`.
- Checkpoints that ship their own code (`auto_map`) run only when the user opts in, with every code file hashed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.models.imt_text import file_sha256

REMOTE_CODE_CONFIGS = (
    "config.json",
    "processor_config.json",
    "preprocessor_config.json",
    "tokenizer_config.json",
)
# Auto classes a remote-code checkpoint may name for its generating model, in the order they are tried.
REMOTE_MODEL_CLASSES = ("AutoModelForImageTextToText", "AutoModelForVision2Seq", "AutoModelForCausalLM")
# package named in a processor's ImportError -> the extra that installs it (pyproject.toml)
EXTRAS = {"num2words": "hf"}


def processor_without_video(processor_cls: Any) -> Any:
    """`processor_cls` minus its video processor(s), which need torchvision (not a dependency of this project)."""

    class ImagesOnly(processor_cls):
        @classmethod
        def get_attributes(cls) -> list[str]:
            return [name for name in super().get_attributes() if "video" not in name]

        @classmethod
        def from_args_and_dict(cls, args: Any, processor_dict: dict[str, Any], **kwargs: Any) -> Any:
            videos = [name for name in processor_cls.get_attributes() if "video" in name]
            return super().from_args_and_dict(args, {**processor_dict, **dict.fromkeys(videos)}, **kwargs)

        def apply_chat_template(
            self, conversation: Any, chat_template: str | None = None, **kwargs: Any
        ) -> Any:
            # SmolVLMProcessor's override only adds video sampling defaults read from its video processor
            # (processing_smolvlm.py); rendering is ProcessorMixin's
            from transformers.processing_utils import ProcessorMixin

            return ProcessorMixin.apply_chat_template(self, conversation, chat_template, **kwargs)

    ImagesOnly.__name__ = ImagesOnly.__qualname__ = processor_cls.__name__
    return ImagesOnly


def _declared_processor_class(root: Path) -> str | None:
    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        path = root / name
        if path.is_file():
            declared = json.loads(path.read_text(encoding="utf-8")).get("processor_class")
            if declared:
                return str(declared)
    return None


def load_processor(root: Path, config: Any, *, trust_remote_code: bool) -> Any:
    """The checkpoint's processor with PIL image processing (never torchvision), loaded from local files only."""
    from transformers import AutoProcessor
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING, processor_class_from_name
    from transformers.utils import is_torchvision_available

    declared = _declared_processor_class(root)
    processor_cls: Any = (
        processor_class_from_name(declared) if declared else PROCESSOR_MAPPING.get(type(config), None)
    )
    if trust_remote_code and any("AutoProcessor" in m for m in remote_code(root).values()):
        processor_cls = None  # the checkpoint's own processor code, as AutoProcessor picks it when trusted
    try:
        if processor_cls is None:  # a processor shipped as code, or none: let AutoProcessor decide
            return AutoProcessor.from_pretrained(
                root, local_files_only=True, backend="pil", trust_remote_code=trust_remote_code
            )
        if not is_torchvision_available() and any("video" in a for a in processor_cls.get_attributes()):
            processor_cls = processor_without_video(processor_cls)
        return processor_cls.from_pretrained(root, local_files_only=True, backend="pil")
    except ImportError as error:
        package = next((p for p in EXTRAS if p in str(error)), None)
        hint = f"pip install 'cxrbench[{EXTRAS[package]}]'" if package else "install the package it names"
        raise ValueError(
            f"hf:{root}: its processor needs a package that is not installed ({error}); {hint}"
        ) from None


def chat_prompt(processor: Any, instruction: str, prompt_format: str | None) -> str:
    """The text for one image and one instruction, as the checkpoint's family expects it."""
    if prompt_format is not None:
        return prompt_format.replace("{instruction}", instruction)
    image_token = getattr(processor, "image_token", None) or "<image>"
    if getattr(processor, "chat_template", None):
        message = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": instruction}]}]
        return processor.apply_chat_template(message, add_generation_prompt=True)
    if type(processor).__name__ == "PaliGemmaProcessor":
        # PaliGemmaProcessor.prepare_inputs_layout inserts <bos> after the last image token and ends the prefix
        # with "\n" itself: "<image>...<bos>{prefix}\n" (transformers/models/paligemma/processing_paligemma.py)
        return f"{image_token}{instruction}"
    return f"{image_token}\n{instruction}"


def adds_bos_twice(tokenizer: Any, prompt: str) -> bool:
    """True when the prompt already starts with BOS: the tokenizer must then not add its own (the rule of
    ProcessorMixin.apply_chat_template in transformers/processing_utils.py: add_special_tokens=False)."""
    bos = getattr(tokenizer, "bos_token", None)
    if not bos:
        return False
    return prompt.startswith(bos)


# ----------------------------------------------------------------------------- code shipped with a checkpoint


def remote_code(root: Path) -> dict[str, dict[str, str]]:
    """`auto_map` entries of the checkpoint's config files (file -> {auto class: "module.Class"})."""
    found: dict[str, dict[str, str]] = {}
    for name in REMOTE_CODE_CONFIGS:
        path = root / name
        if not path.is_file():
            continue
        auto_map = json.loads(path.read_text(encoding="utf-8")).get("auto_map")
        if auto_map:
            found[name] = {key: str(value) for key, value in auto_map.items()}
    return found


def check_remote_code(
    root: Path, auto_maps: dict[str, dict[str, str]], trust_remote_code: bool
) -> dict[str, str]:
    """Refuses shipped code unless opted in; returns the sha256 of every code file (*.py) in the folder."""
    entries = sorted({entry for auto_map in auto_maps.values() for entry in auto_map.values()})
    if not trust_remote_code:
        raise ValueError(
            f"hf:{root} ships its own Python code (auto_map: {', '.join(entries)}), which runs only if you read it "
            "and pass --option trust_remote_code=true"
        )
    elsewhere = [entry for entry in entries if "--" in entry]
    if elsewhere:
        raise ValueError(
            f"hf:{root}: auto_map points to code in another repository ({', '.join(elsewhere)}), which is never "
            "downloaded; copy that code into the checkpoint folder"
        )
    return {path.name: file_sha256(path) for path in sorted(root.glob("*.py"))}


def remote_model_class(auto_maps: dict[str, dict[str, str]]) -> Any:
    import transformers

    declared = auto_maps.get("config.json", {})
    for name in REMOTE_MODEL_CLASSES:
        if name in declared and hasattr(transformers, name):
            return getattr(transformers, name)
    return transformers.AutoModelForImageTextToText
