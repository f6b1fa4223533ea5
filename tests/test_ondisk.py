"""`--images DIR`: matching a dataset to photos on disk and rescaling circles to them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord, load_dataset
from acnekit.errors import ImageError
from acnekit.ondisk import match_images


def photo(path, w: int, h: int, orientation: int | None = None) -> None:
    rgb = np.random.default_rng(w * 7 + h).integers(0, 255, (h, w, 3), dtype=np.uint8)
    img = Image.fromarray(rgb)
    if orientation is None:
        img.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.save(path, exif=exif)


def dataset(*specs) -> AcneDataset:
    """specs: (file_name, width, height) with one circle at (w/4, h/2), radius 8."""
    ims = [ImageRecord(k, n, w, h, Circles([[w / 4, h / 2]], [8.0], None, ["acne"]), ann_ids=[100 + k])
           for k, (n, w, h) in enumerate(specs)]
    return AcneDataset(ims, info={"v": 1})


def test_same_size_is_untouched(tmp_path):
    photo(tmp_path / "a.png", 40, 30)
    ds = dataset(("a.png", 40, 30))
    od = match_images(ds, tmp_path)
    assert od.dataset.equals(ds) and od.n_rescaled == 0
    assert od.paths == {"a.png": tmp_path / "a.png"}
    assert "no rescaling" in "\n".join(od.summary_lines())


def test_uniform_downscale(tmp_path):
    photo(tmp_path / "a.png", 150, 100)
    od = match_images(dataset(("a.png", 300, 200)), tmp_path)
    s = od.scales[0]
    assert (s.sx, s.sy, s.uniform) == (0.5, 0.5, True)
    im = od.dataset.images[0]
    assert (im.width, im.height) == (150, 100)
    assert im.circles.xy.tolist() == [[37.5, 50.0]] and im.circles.radius.tolist() == [4.0]
    assert im.ann_ids.tolist() == [100] and im.circles.class_name.tolist() == ["acne"]
    text = "\n".join(od.summary_lines())
    assert "300x200 -> 150x100" in text and "uniform" in text and "not uniform" not in text


def test_stretched_photo_scales_axes_separately(tmp_path):
    photo(tmp_path / "a.jpg", 64, 64)
    od = match_images(dataset(("a.jpg", 320, 128)), tmp_path)
    s = od.scales[0]
    assert s.sx == pytest.approx(0.2) and s.sy == pytest.approx(0.5) and not s.uniform
    c = od.dataset.images[0].circles
    assert c.xy[0].tolist() == pytest.approx([80 * 0.2, 64 * 0.5])
    assert c.radius[0] == pytest.approx(8 * 0.35)
    assert "not uniform" in "\n".join(od.summary_lines())
    assert od.to_dict()["scales"][0]["from"] == [320, 128]


def test_exif_rotated_photo_uses_upright_size(tmp_path):
    photo(tmp_path / "r.jpg", 60, 40, orientation=6)  # stored 60x40, shown 40x60
    od = match_images(dataset(("r.jpg", 40, 60)), tmp_path)
    assert od.scales[0].same and od.n_rescaled == 0


def test_missing_photos_are_an_error_listing_them(tmp_path):
    photo(tmp_path / "a.png", 10, 10)
    ds = dataset(("a.png", 10, 10), ("b.png", 10, 10), ("c.png", 10, 10))
    with pytest.raises(ImageError) as exc:
        match_images(ds, tmp_path)
    msg = str(exc.value)
    assert str(tmp_path) in msg and "2 of the 3 images" in msg and "b.png" in msg and "c.png" in msg


def test_missing_skip_leaves_out_and_counts(tmp_path):
    photo(tmp_path / "a.png", 10, 10)
    photo(tmp_path / "extra.png", 10, 10)
    od = match_images(dataset(("a.png", 10, 10), ("b.png", 10, 10)), tmp_path, missing="skip")
    assert [im.file_name for im in od.dataset] == ["a.png"]
    assert od.missing == ["b.png"] and od.unlisted == 1
    text = "\n".join(od.summary_lines())
    assert "1 images have no photo" in text and "b.png" in text and "not in the dataset" in text


def test_all_missing_is_an_error_even_with_skip(tmp_path):
    with pytest.raises(ImageError, match="none of the 1 images"):
        match_images(dataset(("a.png", 10, 10)), tmp_path, missing="skip")


@pytest.mark.parametrize("content", [
    b"",  # empty file
    b"this is not an image",  # garbage
    b"\x89PNG\r\n\x1a\n",  # PNG signature only
])
def test_unreadable_photo_is_never_skipped(tmp_path, content):
    photo(tmp_path / "a.png", 10, 10)
    (tmp_path / "bad.png").write_bytes(content)
    ds = dataset(("a.png", 10, 10), ("bad.png", 10, 10))
    for missing in ("error", "skip"):
        with pytest.raises(ImageError) as exc:
            match_images(ds, tmp_path, missing=missing)
        assert "bad.png" in str(exc.value) and "1 photos cannot be read" in str(exc.value)


def test_folder_errors(tmp_path):
    with pytest.raises(ImageError, match="folder not found"):
        match_images(dataset(("a.png", 10, 10)), tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(ImageError, match="not a folder"):
        match_images(dataset(("a.png", 10, 10)), tmp_path / "f.txt")
    with pytest.raises(ValueError, match="missing must be"):
        match_images(dataset(("a.png", 10, 10)), tmp_path, missing="ignore")


def test_real_640_copies(real_json, acne640):
    ds, _ = load_dataset(real_json, fix=True)
    od = match_images(ds, acne640 / "images", missing="skip")
    assert len(od.scales) == 1026 and len(od.missing) == 1204 - 1026
    assert all((im.width, im.height) == (640, 640) for im in od.dataset)
    rec = ds.by_name()["levle3_116.jpg"]
    got = od.dataset.by_name()["levle3_116.jpg"]
    sx, sy = 640 / rec.width, 640 / rec.height
    assert np.allclose(got.circles.xy, rec.circles.xy * [sx, sy])
    assert np.allclose(got.circles.radius, rec.circles.radius * (sx + sy) / 2)
    assert np.all(got.circles.inside(640, 640))
