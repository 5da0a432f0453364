"""Tiny config-built vision-language checkpoints, one per family `hf:DIR` supports (random seeded weights).

Each builder saves a model (a few thousand parameters), a word-level tokenizer and the family's processor with its
REAL chat template (the source of each template is cited next to it) into a folder, as `save_pretrained` writes
a published checkpoint. The image processors keep their class and resize rule but run at 16-32 px.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers

PROJECTION_GAIN = 30.0
WORDS = [
    "user",
    "assistant",
    "system",
    "model",
    "you",
    "are",
    "a",
    "helpful",
    "what",
    "disease",
    "does",
    "this",
    "image",
    "have",
    "?",
    "where",
    "is",
    "nodule",
    "describe",
    "the",
    ".",
    "please",
    "segment",
    "heart",
    "from",
    "given",
    "level",
    "of",
    ":",
    "no",
    "finding",
    "cardiomegaly",
    "normal",
    "left",
    "lung",
    ",",
    "effusion",
    "mild",
    "picture",
]

# ----------------------------------------------------------------------------- chat templates (real, cited)

# Qwen/Qwen2-VL-2B-Instruct chat_template.json on the Hugging Face hub (also the template of
# Qwen/Qwen2.5-VL-*-Instruct: quoted as "the current chat template" in Qwen/Qwen2.5-VL-32B-Instruct discussion #18).
QWEN2_VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content "
    "%}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)
# Gemma 3 / MedGemma: transformers tests/models/gemma3/test_processing_gemma3.py (prepare_processor_dict); for one
# user turn it renders exactly as google/gemma-3-4b-it's chat_template.json (which only adds a string-system branch).
GEMMA3_TEMPLATE = (
    "{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- set first_user_prefix = messages[0]['content']"
    "[0]['text'] + '\n\n' -%}\n    {%- set loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set "
    'first_user_prefix = "" -%}\n    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in '
    "loop_messages -%}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n        {{ "
    'raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}\n    {%- endif -%}\n'
    "    {%- if (message['role'] == 'assistant') -%}\n        {%- set role = \"model\" -%}\n    {%- else -%}\n        "
    "{%- set role = message['role'] -%}\n    {%- endif -%}\n    {{ '<start_of_turn>' + role + '\n' + "
    "(first_user_prefix if loop.first else \"\") }}\n    {%- if message['content'] is string -%}\n        {{ "
    "message['content'] | trim }}\n    {%- elif message['content'] is iterable -%}\n        {%- for item in "
    "message['content'] -%}\n            {%- if item['type'] == 'image' -%}\n                {{ '<start_of_image>' }}"
    "\n            {%- elif item['type'] == 'text' -%}\n                {{ item['text'] | trim }}\n            {%- endif"
    ' -%}\n        {%- endfor -%}\n    {%- else -%}\n        {{ raise_exception("Invalid content type") }}\n    {%- '
    "endif -%}\n    {{ '<end_of_turn>\n' }}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n    "
    "{{'<start_of_turn>model\n'}}\n{%- endif -%}\n"
)
# HuggingFaceM4/Idefics3-8B-Llama3's template; transformers tests/models/idefics3/test_processing_idefics3.py
# (test_apply_chat_template) asserts what it renders: "<|begin_of_text|>User: ...<end_of_utterance>\nAssistant:".
IDEFICS3_TEMPLATE = (
    "<|begin_of_text|>{% for message in messages %}{{message['role'].capitalize()}}{% if message['content'][0]['type']"
    " == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == "
    "'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
# SmolVLM2: DEFAULT_CHAT_TEMPLATE of transformers/models/smolvlm/processing_smolvlm.py.
SMOLVLM_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'] is string %}"
    "{{': ' + message['content']}}{% else %}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}"
    "{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif "
    "line['type'] == 'image' %}{{ '<image>' }}{% elif line['type'] == 'video' %}{{ '<video>' }}{% endif %}"
    "{% endfor %}{% endif %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
# llava-hf/llava-1.5-7b-hf and llava-hf/llava-v1.6-vicuna-7b-hf: transformers tests/models/llava/test_processing_llava.py
# and tests/models/llava_next/test_processing_llava_next.py (prepare_processor_dict, the same template).
LLAVA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in "
    "message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}"
    "{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "{{ 'ASSISTANT:' }}{% endif %}"
)
# llava-hf/llava-onevision-qwen2-*-ov-hf: transformers tests/models/llava_onevision/test_processing_llava_onevision.py.
LLAVA_ONEVISION_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + ' '}}{# Render all images first #}{% for "
    "content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}{# Render "
    "all video then #}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in "
    "message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}{% endfor %}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}"
    "{{ '\n' + content['text'] }}{% endgeneration %}{% endfor %}{% endif %}{{'<|im_end|>'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# ----------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class Specials:
    tokens: tuple[str, ...]  # special tokens in id order (before the words)
    eos: str
    pad: str | None = None
    bos: str | None = None  # None: the tokenizer has no BOS (Qwen)
    add_bos: bool = False  # the tokenizer prepends BOS itself (Llama, Gemma), as the published ones do
    named: tuple[tuple[str, str], ...] = ()  # extra_special_tokens, e.g. ("image_token", "<image>")


def word_tokenizer(specials: Specials) -> Any:
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([*specials.tokens, "<unk>", *dict.fromkeys(WORDS)])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    backend.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in (*specials.tokens, "<unk>")]
    )
    kwargs: dict[str, Any] = {"eos_token": specials.eos, "unk_token": "<unk>"}
    if specials.pad:
        kwargs["pad_token"] = specials.pad
    if specials.bos:
        kwargs["bos_token"] = specials.bos
        kwargs["add_bos_token"] = specials.add_bos
    if specials.named:
        kwargs["extra_special_tokens"] = dict(specials.named)
    return PreTrainedTokenizerFast(tokenizer_object=backend, **kwargs)


def _ids(tokenizer: Any, *tokens: str) -> list[int]:
    return [tokenizer.convert_tokens_to_ids(t) for t in tokens]


def _llama(vocab_size: int, tokenizer: Any, **extra: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        **extra,
    )


# the vision -> text projection of each family, scaled up so that the tiny random LM's answers depend on the image
_PROJECTIONS = ("merger", "multi_modal_projector", "connector")


def _save(root: Path, model_cls: Any, config: Any, processor: Any) -> Path:
    torch.manual_seed(0)
    model = model_cls(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if any(part in name for part in _PROJECTIONS) and param.dim() == 2:
                param.mul_(PROJECTION_GAIN)
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.save_pretrained(root)
    processor.save_pretrained(root)
    return root


# ----------------------------------------------------------------------------- families


def build_qwen2_vl(root: Path, *, version: str = "2") -> Path:
    """Qwen2-VL / Qwen2.5-VL: smart_resize to multiples of patch x merge (8 px here), 8x8 to 32x32 px images."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLProcessor,
    )
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

    names = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>")
    specials = Specials(
        (*names, "<|image_pad|>", "<|video_pad|>"),
        eos="<|im_end|>",
        pad="<|endoftext|>",
        named=(("image_token", "<|image_pad|>"), ("video_token", "<|video_pad|>")),
    )
    tokenizer = word_tokenizer(specials)
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 512,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        "bos_token_id": None,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    image_id, video_id, start_id, end_id = _ids(
        tokenizer, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"
    )
    tokens = {
        "image_token_id": image_id,
        "video_token_id": video_id,
        "vision_start_token_id": start_id,
        "vision_end_token_id": end_id,
    }
    vision: dict[str, Any] = {
        "depth": 1,
        "hidden_size": 32,
        "num_heads": 2,
        "patch_size": 4,
        "in_channels": 3,
    }
    if version == "2":
        vision.update(embed_dim=16, mlp_ratio=2)
        config, model_cls, proc_cls = Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    else:
        vision.update(hidden_size=16, intermediate_size=32, out_hidden_size=32, window_size=16)
        vision["fullatt_block_indexes"] = [0]
        config, model_cls, proc_cls = (
            Qwen2_5_VLConfig,
            Qwen2_5_VLForConditionalGeneration,
            Qwen2_5_VLProcessor,
        )
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=4, merge_size=2, temporal_patch_size=2, min_pixels=8 * 8, max_pixels=32 * 32
    )
    processor = _without_video(proc_cls)(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=QWEN2_VL_TEMPLATE
    )
    return _save(root, model_cls, config(text_config=text, vision_config=vision, **tokens), processor)


def build_gemma3(root: Path) -> Path:
    """Gemma 3 / MedGemma: SigLIP at 16 px stretched (size height x width), 4 soft tokens per image."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3Processor
    from transformers.models.gemma3 import Gemma3ImageProcessorPil

    boi, eoi, soft = "<start_of_image>", "<end_of_image>", "<image_soft_token>"
    specials = Specials(
        ("<pad>", "<eos>", "<bos>", boi, eoi, soft, "<start_of_turn>", "<end_of_turn>"),
        eos="<eos>",
        pad="<pad>",
        bos="<bos>",
        add_bos=True,  # google/gemma-3 tokenizers prepend <bos>
        named=(("image_token", soft), ("boi_token", boi), ("eoi_token", eoi)),
    )
    tokenizer = word_tokenizer(specials)
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "max_position_embeddings": 512,
        "sliding_window": 64,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    vision = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": 16,
        "patch_size": 4,
        "vision_use_head": False,
    }
    boi_id, eoi_id, soft_id = _ids(tokenizer, boi, eoi, soft)
    config = Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=4,
        boi_token_index=boi_id,
        eoi_token_index=eoi_id,
        image_token_index=soft_id,
    )
    image_processor = Gemma3ImageProcessorPil(size={"height": 16, "width": 16}, image_seq_length=4)
    processor = Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=GEMMA3_TEMPLATE,
        image_seq_length=4,
    )
    return _save(root, Gemma3ForConditionalGeneration, config, processor)


def build_idefics3(root: Path, *, smol: bool = False, splitting: bool = True) -> Path:
    """Idefics3 / SmolVLM: longest edge to 32 px, 16 px tiles + a 16 px global view, 4 tokens per view."""
    if smol:
        from transformers import SmolVLMConfig as Config
        from transformers import SmolVLMForConditionalGeneration as Model
        from transformers import SmolVLMProcessor as Proc
        from transformers.models.smolvlm import SmolVLMImageProcessorPil as ImageProc

        bos, template = "<|im_start|>", SMOLVLM_TEMPLATE
    else:
        from transformers import Idefics3Config as Config
        from transformers import Idefics3ForConditionalGeneration as Model
        from transformers import Idefics3Processor as Proc
        from transformers.models.idefics3 import Idefics3ImageProcessorPil as ImageProc

        bos, template = "<|begin_of_text|>", IDEFICS3_TEMPLATE
    names = ("<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>")
    specials = Specials(
        ("<|pad|>", bos, "<|end_of_text|>", *names),
        eos="<end_of_utterance>",
        pad="<|pad|>",
        bos=bos,
        add_bos=True,  # a Llama 3 tokenizer prepends <|begin_of_text|>
        named=(("image_token", "<image>"),),
    )
    tokenizer = word_tokenizer(specials)
    vision = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": 16,
        "patch_size": 4,
    }
    config = Config(
        text_config=_llama(len(tokenizer), tokenizer),
        vision_config=vision,
        scale_factor=2,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
    )
    image_processor = ImageProc(
        size={"longest_edge": 32}, max_image_size={"longest_edge": 16}, do_image_splitting=splitting
    )
    if smol:
        processor = _without_video(Proc)(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            image_seq_len=4,
            chat_template=template,
        )
    else:
        processor = Proc(
            image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4, chat_template=template
        )
    return _save(root, Model, config, processor)


def build_llava_next(root: Path, *, onevision: bool = False) -> Path:
    """LLaVA-NeXT (CLIP + Llama) / LLaVA-OneVision (SigLIP + Qwen2): 16 px base view + any-res grid of 16 px tiles."""
    from transformers import (
        CLIPVisionConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextProcessor,
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionProcessor,
        Qwen2Config,
        SiglipVisionConfig,
    )
    from transformers.models.llava_next import LlavaNextImageProcessorPil
    from transformers.models.llava_onevision import LlavaOnevisionImageProcessorPil

    grid = [[16, 32], [32, 16], [32, 32]]
    tower = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    tower.update(image_size=16, patch_size=8)
    if onevision:
        specials = Specials(
            ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"),
            eos="<|im_end|>",
            pad="<|endoftext|>",
            named=(("image_token", "<image>"), ("video_token", "<video>")),
        )
        tokenizer = word_tokenizer(specials)
        text = Qwen2Config(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=512,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        image_id, video_id = _ids(tokenizer, "<image>", "<video>")
        config = LlavaOnevisionConfig(
            vision_config=SiglipVisionConfig(**tower, vision_use_head=False),
            text_config=text,
            image_token_index=image_id,
            video_token_index=video_id,
            image_grid_pinpoints=grid,
            vision_feature_layer=-1,
            vision_feature_select_strategy="full",
        )
        image_processor = LlavaOnevisionImageProcessorPil(
            size={"height": 16, "width": 16}, image_grid_pinpoints=grid
        )
        processor = _without_video(LlavaOnevisionProcessor)(
            image_processor=image_processor,
            tokenizer=tokenizer,
            num_image_tokens=4,
            vision_feature_select_strategy="full",
            chat_template=LLAVA_ONEVISION_TEMPLATE,
        )
        return _save(root, LlavaOnevisionForConditionalGeneration, config, processor)
    specials = Specials(
        ("<pad>", "<s>", "</s>", "<image>"),
        eos="</s>",
        pad="<pad>",
        bos="<s>",
        add_bos=True,
        named=(("image_token", "<image>"),),
    )
    tokenizer = word_tokenizer(specials)
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(**tower),
        text_config=_llama(len(tokenizer), tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=grid,
        vision_feature_layer=-1,
    )
    image_processor = LlavaNextImageProcessorPil(
        size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}, image_grid_pinpoints=grid
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_TEMPLATE,
    )
    return _save(root, LlavaNextForConditionalGeneration, config, processor)


def build_paligemma(root: Path) -> Path:
    """PaliGemma: SigLIP at 16 px stretched, 16 image tokens, no chat template (the processor builds the prompt)."""
    from transformers import (
        GemmaConfig,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
    )
    from transformers.models.siglip import SiglipImageProcessorPil

    specials = Specials(
        ("<pad>", "<eos>", "<bos>", "<image>"),
        eos="<eos>",
        pad="<pad>",
        bos="<bos>",
        add_bos=True,
        named=(("image_token", "<image>"),),
    )
    tokenizer = word_tokenizer(specials)
    image_processor = SiglipImageProcessorPil(size={"height": 16, "width": 16}, image_seq_length=16)
    processor = PaliGemmaProcessor(
        image_processor=image_processor, tokenizer=tokenizer
    )  # adds <loc>/<seg> tokens
    vocab_size = len(processor.tokenizer)
    text = GemmaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": 16,
        "patch_size": 4,
        "projection_dim": 32,
    }
    config = PaliGemmaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        projection_dim=32,
        hidden_size=32,
    )
    return _save(root, PaliGemmaForConditionalGeneration, config, processor)


def build_llava(root: Path) -> Path:
    """LLaVA-1.5 with LlavaImageProcessor's expand-to-square (do_pad): the frame is the letterboxed square."""
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.llava import LlavaImageProcessorPil

    specials = Specials(
        ("<pad>", "<s>", "</s>", "<image>"),
        eos="</s>",
        pad="<pad>",
        bos="<s>",
        add_bos=True,
        named=(("image_token", "<image>"),),
    )
    tokenizer = word_tokenizer(specials)
    tower = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**tower, image_size=16, patch_size=8),
        text_config=_llama(len(tokenizer), tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
    )
    image_processor = LlavaImageProcessorPil(
        do_pad=True, size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_TEMPLATE,
    )
    return _save(root, LlavaForConditionalGeneration, config, processor)


def _without_video(processor_cls: Any) -> Any:
    """The processor class without its video processor: building one needs torchvision (not a dependency)."""
    from bench.models.hf_families import processor_without_video

    return processor_without_video(processor_cls)


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "qwen2_vl": build_qwen2_vl,
    "qwen2_5_vl": lambda root: build_qwen2_vl(root, version="2.5"),
    "gemma3": build_gemma3,
    "idefics3": build_idefics3,
    "smolvlm": lambda root: build_idefics3(root, smol=True),
    "llava_next": build_llava_next,
    "llava_onevision": lambda root: build_llava_next(root, onevision=True),
    "paligemma": build_paligemma,
    "llava": build_llava,
}
