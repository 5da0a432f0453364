"""Bad layouts fail with a LayoutError naming the file (and row) and suggesting a fix."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from bench.datasets import LayoutError, get_adapter
from bench.datasets.cli import check_dataset
from bench.datasets.vindr_cxr import fuse_boxes


def _copy(demo_root: Path, name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(demo_root / name, root)
    return root


def _check_error(name: str, root: Path) -> LayoutError:
    with pytest.raises(LayoutError) as info:
        get_adapter(name).check(root)
    assert "fix:" in str(info.value)
    return info.value


def test_missing_image(demo_root: Path, tmp_path: Path):
    root = _copy(demo_root, "chestxray14", tmp_path)
    victim = sorted(root.glob("images_*/images/*.png"))[5]
    victim.unlink()
    error = _check_error("chestxray14", root)
    assert victim.name in str(error) and "image not found" in str(error)


def test_missing_csv(demo_root: Path, tmp_path: Path):
    root = _copy(demo_root, "chexpert", tmp_path)
    (root / "valid.csv").unlink()
    error = _check_error("chexpert", root)
    assert error.path.endswith("valid.csv") and "file not found" in str(error)


def test_wrong_column(demo_root: Path, tmp_path: Path):
    root = _copy(demo_root, "object-cxr", tmp_path)
    text = (root / "dev.csv").read_text()
    (root / "dev.csv").write_text(
        text.replace("annotation", "boxes", 1)
    )  # no header variant of the publisher
    error = _check_error("object-cxr", root)
    assert error.row == 1 and "annotation" in str(error) and "dev.csv" in str(error)


def test_bad_cell_names_the_row(demo_root: Path, tmp_path: Path):
    root = _copy(demo_root, "chexpert", tmp_path)
    lines = (root / "train.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",0.0,", ",2.0,", 1)
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    error = _check_error("chexpert", root)
    assert error.row == 4 and "'2.0'" in str(error)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [("tbx11k", "imgs/*/*.png"), ("vindr-cxr", "test/*.dicom"), ("jsrt", "All247images/*.IMG")],
)
def test_corrupt_image(name: str, pattern: str, demo_root: Path, tmp_path: Path):
    root = _copy(demo_root, name, tmp_path)
    victim = sorted(root.glob(pattern))[0]
    victim.write_bytes(b"this is not an image" * 3)
    error = _check_error(name, root)
    assert victim.name in str(error)


def test_empty_split(demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = _copy(demo_root, "chestxray14", tmp_path)
    (root / "test_list.txt").write_text("")
    error = _check_error("chestxray14", root)
    assert "'test' has no images" in str(error)
    console = Console(file=io.StringIO(), width=200)
    assert check_dataset("chestxray14", root, console=console) == 2
    stderr = capsys.readouterr().err  # errors go to stderr, one line (bench.errors), then the expected layout
    assert stderr.startswith("error: ") and "has no images" in stderr.splitlines()[0]
    assert "expected layout for chestxray14:" in stderr


def test_missing_masks_and_wrong_root(demo_root: Path, tmp_path: Path):
    root = _copy(demo_root, "montgomery", tmp_path)
    victim = sorted((root / "ManualMask" / "leftMask").glob("*.png"))[0]
    victim.unlink()
    assert victim.name in str(_check_error("montgomery", root))
    with pytest.raises(LayoutError, match="folder not found"):
        get_adapter("jsrt").check(tmp_path / "nowhere")


def test_unknown_split_and_policy():
    with pytest.raises(ValueError, match="unknown split"):
        list(get_adapter("tbx11k").records(".", "test"))
    with pytest.raises(ValueError, match="uncertain='U-Maybe'"):
        get_adapter("chexpert", uncertain="U-Maybe")


def test_vindr_fusion_rule_by_hand():
    a = [10.0, 10.0, 50.0, 50.0]
    b = [12.0, 12.0, 52.0, 52.0]  # IoU with a ~ 0.82
    far = [200.0, 200.0, 240.0, 240.0]
    fused = fuse_boxes([("R1", a), ("R2", b), ("R3", far)])
    assert fused == [[11.0, 11.0, 51.0, 51.0]]  # the lone far box (1 reader) is dropped
    assert fuse_boxes([("R1", a), ("R1", b)]) == []  # one reader twice is not agreement
    three = fuse_boxes([("R1", a), ("R2", b), ("R3", a)])
    assert len(three) == 1 and three[0][0] == pytest.approx((10 + 12 + 10) / 3)
