"""Image reading: bad files give one clear ImageError, EXIF orientation, any mode to RGB,
the pixel limit is enforced before decoding."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from acnekit.errors import ImageError
from acnekit.imageio import image_size, read_image


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95, **kw)
    return buf.getvalue()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png_header(w: int, h: int) -> bytes:
    """A PNG that claims w x h 1-bit pixels but holds a few bytes of (garbage) data: opening
    reads only the header, so a reader that decodes first would fail differently."""
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) \
        + _chunk(b"IEND", b"")


def test_pixel_limit_refused_before_decoding(tmp_path):
    p = tmp_path / "huge.png"
    p.write_bytes(huge_png_header(20000, 20000))
    assert p.stat().st_size < 200
    with pytest.raises(ImageError, match=r"20000x20000 = 400.0 MP, over the pixel limit of 64.0 MP") as err:
        read_image(p)
    assert str(p) in str(err.value)
    with pytest.raises(ImageError, match="over the pixel limit"):
        image_size(p)
    # the limit is configurable: a raised limit gets past the check and then hits the bad data
    with pytest.raises(ImageError, match="corrupt or truncated"):
        read_image(p, max_pixels=500_000_000)


def test_pixel_limit_from_environment(tmp_path, monkeypatch):
    p = tmp_path / "a.png"
    p.write_bytes(_png(Image.new("RGB", (100, 100))))
    monkeypatch.setenv("ACNEKIT_MAX_PIXELS", "5000")
    with pytest.raises(ImageError, match="over the pixel limit"):
        read_image(p)
    monkeypatch.setenv("ACNEKIT_MAX_PIXELS", "lots")
    with pytest.raises(ImageError, match="ACNEKIT_MAX_PIXELS must be an integer"):
        read_image(p)


def _bad_files(tmp_path):
    good = _jpeg(Image.new("RGB", (64, 48), (200, 50, 50)))
    corrupt = bytearray(good)
    corrupt[2:40] = b"\x00" * 38  # header segments overwritten
    cases = {
        "empty.jpg": (b"", r"empty file \(0 bytes\)"),
        "text.jpg": (b"hello, not an image\n", "not an image"),
        "truncated.jpg": (good[: len(good) // 2], "corrupt or truncated"),
        "corrupt.jpg": (bytes(corrupt), "not an image|corrupt or truncated"),
    }
    for name, (data, _) in cases.items():
        (tmp_path / name).write_bytes(data)
    return cases


@pytest.mark.parametrize("name", ["empty.jpg", "text.jpg", "truncated.jpg", "corrupt.jpg"])
def test_bad_files_give_one_clear_error(tmp_path, name):
    cases = _bad_files(tmp_path)
    with pytest.raises(ImageError, match=cases[name][1]) as err:
        read_image(tmp_path / name)
    assert str(tmp_path / name) in str(err.value)
    with pytest.raises(ImageError, match=cases[name][1]):
        read_image((tmp_path / name).read_bytes(), name=name)


def test_missing_and_folder(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="is a folder"):
        read_image(tmp_path)


def test_exif_orientation_6_is_applied(tmp_path):
    # stored 40 wide x 20 high, red block in the stored top-left corner
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:6, :6] = (255, 0, 0)
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    p = tmp_path / "rot.jpg"
    p.write_bytes(_jpeg(img, exif=exif.tobytes()))
    assert image_size(p) == (20, 40)
    rgb = read_image(p)
    assert rgb.shape == (40, 20, 3)  # upright: 20 wide, 40 high
    assert rgb[2, 17, 0] > 200 and rgb[2, 17, 1] < 60  # top-left went to the top-right
    assert rgb[2, 2, 0] < 60 and rgb[37, 2, 0] < 60


def test_cmyk_jpeg(tmp_path):
    p = tmp_path / "cmyk.jpg"
    p.write_bytes(_jpeg(Image.new("CMYK", (32, 16), (255, 0, 0, 0))))  # pure cyan
    with Image.open(p) as im:
        assert im.mode == "CMYK"
    rgb = read_image(p)
    assert rgb.shape == (16, 32, 3) and rgb.dtype == np.uint8
    r, g, b = rgb[8, 16].astype(int)
    assert r < 40 and g > 215 and b > 215


def _palette(color):
    img = Image.new("P", (8, 4), 5)
    img.putpalette([0, 0, 0] * 5 + list(color) + [0, 0, 0] * 250)
    return img


@pytest.mark.parametrize("make, expect", [
    (lambda: Image.new("L", (8, 4), 77), (77, 77, 77)),  # grey
    (lambda: Image.new("LA", (8, 4), (77, 0)), (255, 255, 255)),  # fully transparent grey: on white
    (lambda: Image.new("RGBA", (8, 4), (10, 20, 30, 255)), (10, 20, 30)),  # opaque RGBA
    (lambda: Image.new("RGBA", (8, 4), (0, 0, 0, 128)), (127, 127, 127)),  # half-transparent black on white
    (lambda: _palette((1, 2, 3)), (1, 2, 3)),  # palette
    (lambda: Image.new("1", (8, 4), 1), (255, 255, 255)),  # bilevel
])
def test_modes_to_rgb(tmp_path, make, expect):
    p = tmp_path / "m.png"
    p.write_bytes(_png(make()))
    rgb = read_image(p)
    assert rgb.shape == (4, 8, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb[1, 1].astype(int) - expect).max() <= 1


def test_16_bit_png(tmp_path):
    arr = np.array([[0, 32768, 65535]], dtype=np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(arr).save(p)
    rgb = read_image(p)
    assert rgb.shape == (1, 3, 3)
    assert rgb[0, :, 0].tolist() == [0, 128, 255]


def test_16_bit_dark_png_stays_dark(tmp_path):
    # every value below 256 of 65535: nearly black, not stretched as if it were 8-bit
    p = tmp_path / "dark16.png"
    Image.fromarray(np.full((2, 2), 200, dtype=np.uint16)).save(p)
    assert read_image(p).max() <= 1


@pytest.mark.parametrize("quality", [20, 50, 75, 90, 95])
def test_jpeg_quality_is_read_back_from_the_header(tmp_path, quality):
    from acnekit.imageio import jpeg_quality

    rgb = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    (tmp_path / "a.jpg").write_bytes(buf.getvalue())
    assert abs(jpeg_quality(buf.getvalue()) - quality) < 1.0
    assert abs(jpeg_quality(tmp_path / "a.jpg") - quality) < 1.0


def test_jpeg_quality_of_other_files_is_none(tmp_path):
    from acnekit.imageio import jpeg_quality

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "PNG")
    assert jpeg_quality(buf.getvalue()) is None
    assert jpeg_quality(b"not an image") is None
    assert jpeg_quality(tmp_path / "missing.jpg") is None
