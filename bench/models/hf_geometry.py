"""Which image frame a checkpoint's `<bin_k>` coordinates live in, read from what its image processor does.

A normalised coordinate c in [0, 1] spans the image the model saw; mapping it back to original pixels needs to
know how that image was made (`RESIZE_MODES` in imt_parse.py). The rule of each processor family below is taken
from its code in transformers 5 (`transformers/models/<family>/image_processing_pil_<family>.py`, cited per rule).
`do_pad` means different things in different families: expand-to-square (LLaVA) or padding a batch of images to a
common size, masked or unpadded by the model (Idefics3, SmolVLM, LLaVA-NeXT, LLaVA-OneVision); only the first
moves coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Frame:
    resize: str | None  # a RESIZE_MODES entry; None when the processor leaves the frame undefined
    source: str  # why: the rule and the processor class


# Families whose frame is the whole image, resized with or without keeping its aspect ratio ("stretch": a
# normalised coordinate spans the original image). The reason of each is recorded in describe().
_WHOLE_IMAGE = {
    # smart_resize: each side rounded to a multiple of patch_size * merge_size, nothing cropped or padded
    # (image_processing_pil_qwen2_vl.py, also used by Qwen2.5-VL)
    "Qwen2VL": "smart_resize keeps the whole image, each side rounded to a multiple of patch_size x merge_size",
    # resize to size height x width; pan-and-scan crops, when on, are windows of the same image
    # (image_processing_pil_gemma3.py _preprocess)
    "Gemma3": "the whole image resized to size height x width (pan-and-scan crops are windows of it)",
    # longest edge to size, then tiles of max_image_size plus a global view resized to max_image_size square, all
    # of the whole image; do_pad pads the batch at the bottom / right under pixel_attention_mask
    # (image_processing_pil_idefics3.py split_images / pad; SmolVLM copies it)
    "Idefics3": "tiles and a global view of the whole image; do_pad only pads the batch (pixel_attention_mask)",
    "SmolVLM": "tiles and a global view of the whole image; do_pad only pads the batch (pixel_attention_mask)",
}
# any-res: a stretched overview (get_image_patches: resized_original_image to size) plus a grid cut from the image
# letterboxed into the best image_grid_pinpoints resolution (_resize_for_patching + _pad_for_patching), which the
# model unpads feature-wise; do_pad pads the number of patches per batch (image_processing_pil_llava_next.py,
# image_processing_pil_llava_onevision.py).
_ANY_RES = ("LlavaNext", "LlavaOnevision")
# pad_to_square centred on a canvas of the image-mean colour before resize / crop (image_processing_pil_llava.py)
_EXPAND_TO_SQUARE = ("Llava",)


def family_of(image_processor: Any) -> str:
    name = type(image_processor).__name__
    for suffix in ("Pil", "Fast"):
        name = name.removesuffix(suffix)
    return name.removesuffix("ImageProcessor")


def processor_frame(image_processor: Any) -> Frame:
    """The frame the processor's input puts coordinates in, or `Frame(None, reason)` when it does not say."""
    cls = type(image_processor).__name__
    family = family_of(image_processor)
    if family in _WHOLE_IMAGE:
        return Frame("stretch", f"processor ({cls}: {_WHOLE_IMAGE[family]})")
    if family in _ANY_RES and getattr(image_processor, "image_grid_pinpoints", None):
        return Frame(
            None,
            f"{cls} feeds a stretched overview and a letterboxed any-res grid (image_grid_pinpoints), so the "
            "frame of the model's coordinates is not defined by the processor",
        )
    letterbox = bool(getattr(image_processor, "do_pad", False))
    if letterbox and family not in _EXPAND_TO_SQUARE:
        return Frame(None, f"{cls} has do_pad=True and this adapter does not know whether it letterboxes")
    return _resize_then_crop(image_processor, cls, letterbox)


def _sizes(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if isinstance(value, int):
        return {"height": value, "width": value}
    items = value.items() if isinstance(value, dict) else vars(value).items()
    return {key: int(v) for key, v in items if isinstance(v, int) and not isinstance(v, bool)}


def _resize_then_crop(image_processor: Any, cls: str, letterbox: bool) -> Frame:
    """Generic `[pad to square] -> resize(size) -> centre crop(crop_size)` processors (CLIP, SigLIP, LLaVA)."""
    base = "pad" if letterbox else "stretch"
    what = "pad_to_square, " if letterbox else ""
    size = (
        _sizes(getattr(image_processor, "size", None)) if getattr(image_processor, "do_resize", True) else {}
    )
    crop = _sizes(getattr(image_processor, "crop_size", None))
    if not getattr(image_processor, "do_center_crop", False) or not crop:
        return Frame(base, f"processor ({cls}: {what}resize, no crop)")
    crop_h, crop_w = crop.get("height"), crop.get("width")
    if "height" in size and "width" in size:
        if crop_h is not None and crop_w is not None and crop_h >= size["height"] and crop_w >= size["width"]:
            return Frame(base, f"processor ({cls}: {what}resize to height x width; the crop keeps all of it)")
    elif "shortest_edge" in size and crop_h is not None and crop_h == crop_w:
        side = size["shortest_edge"]
        if letterbox and crop_h >= side:
            return Frame(
                "pad", f"processor ({cls}: pad_to_square, shortest edge to {side}, crop keeps it all)"
            )
        if not letterbox and crop_h == side:
            return Frame(
                "center_crop", f"processor ({cls}: shortest edge to {side}, centre crop {side} x {side})"
            )
    return Frame(
        None,
        f"{cls} crops {crop_h} x {crop_w} px after resizing to {size}, a window no resize mode describes",
    )
