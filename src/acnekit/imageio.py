"""Reading photos, one convention for all of acnekit.

- EXIF orientation is applied once, on reading (Pillow + ``ImageOps.exif_transpose``):
  annotation coordinates always refer to the upright image, as a viewer shows it.
- Any mode (1, L, LA, P, RGBA, CMYK, I;16, I, F) becomes 8-bit RGB; transparency is
  composited on white.
- A pixel limit guards against decompression bombs: images with more than ``max_pixels``
  pixels (default 64 MP, or ``$ACNEKIT_MAX_PIXELS``) are refused before decoding.
- Missing, empty, corrupt, truncated or non-image files raise `ImageError` naming the file.
- Photos without full colour (grayscale, black-and-white, palette, 16-bit or float modes, or
  an RGB file whose three channels are equal) are read all the same, with a note
  (`read_image_info`, `colour_note`) and an `AcneKitWarning`: the detector was trained on
  colour photos and finds far fewer lesions on them.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from acnekit.atomic import atomic_write_bytes
from acnekit.errors import AcneKitWarning, ImageError

DEFAULT_MAX_PIXELS = 64_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that transpose width and height

Image.MAX_IMAGE_PIXELS = None  # we enforce our own limit, with a clear message


def max_pixels_default() -> int:
    env = os.environ.get("ACNEKIT_MAX_PIXELS")
    if env:
        try:
            return int(env)
        except ValueError:
            raise ImageError(f"ACNEKIT_MAX_PIXELS must be an integer, got {env!r}") from None
    return DEFAULT_MAX_PIXELS


def _open(source: str | Path | bytes, name: str) -> Image.Image:
    if isinstance(source, (bytes, bytearray)):
        if len(source) == 0:
            raise ImageError("empty file (0 bytes), expected an image", path=name)
        fh = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.exists():
            raise ImageError("file not found", path=name)
        if path.is_dir():
            raise ImageError("is a folder, expected an image file", path=name)
        if path.stat().st_size == 0:
            raise ImageError("empty file (0 bytes), expected an image", path=name)
        fh = path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(fh)
    except UnidentifiedImageError:
        raise ImageError("not an image (unrecognised format)", path=name) from None
    except PermissionError:
        raise ImageError("cannot read (permission denied)", path=name) from None
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's header parsers raise all three
        raise ImageError(f"corrupt or truncated image ({exc})", path=name) from None


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1) or 1)
    except Exception:  # malformed EXIF: treat as upright
        return 1


def image_size(source: str | Path | bytes, *, name: str | None = None,
               max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) of the upright image, reading only the header."""
    name = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "<upload>")
    with _open(source, name) as img:
        w, h = img.size
        _check_pixels(w, h, name, max_pixels)
        if _orientation(img) in _SWAPS_AXES:
            w, h = h, w
    return w, h


def _check_pixels(w: int, h: int, name: str, max_pixels: int | None) -> None:
    limit = max_pixels_default() if max_pixels is None else max_pixels
    if w * h > limit:
        raise ImageError(
            f"image is {w}x{h} = {w * h / 1e6:.1f} MP, over the pixel limit of {limit / 1e6:.1f} MP "
            "(raise the limit with $ACNEKIT_MAX_PIXELS, or --max-pixels in assess and serve)",
            path=name,
        )


_MODE_KIND = {"1": "black-and-white", "L": "grayscale", "LA": "grayscale", "La": "grayscale",
              "P": "palette (at most 256 colours)", "PA": "palette (at most 256 colours)",
              "I": "32-bit grayscale", "F": "floating-point grayscale"}


def colour_note(mode: str, rgb: np.ndarray | None = None) -> str | None:
    """Why a photo of this Pillow ``mode`` (and decoded ``rgb``) lacks full colour, or None."""
    kind = _MODE_KIND.get(mode) or ("16-bit grayscale" if mode.startswith("I;16") else None)
    if kind is None and rgb is not None and rgb.ndim == 3 and rgb.shape[2] == 3:
        view = rgb[::4, ::4]
        if view.size and (view[..., 0] == view[..., 1]).all() and (view[..., 1] == view[..., 2]).all():
            kind = "grayscale (three equal channels)"
    if kind is None:
        return None
    return (f"{kind} photo (mode {mode}): the detector was trained on colour photos and finds far fewer "
            "lesions without colour; use the colour original")


def read_image(source: str | Path | bytes, *, name: str | None = None,
               max_pixels: int | None = None) -> np.ndarray:
    """Decode a photo to an upright (H, W, 3) uint8 RGB array."""
    return read_image_info(source, name=name, max_pixels=max_pixels, warn=False)[0]


# The IJG standard luminance quantisation table (quality 50), as libjpeg scales it
_STD_LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57,
                      69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64,
                      81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
                     dtype=np.float64)


def jpeg_quality(source: str | Path | bytes) -> float | None:
    """The IJG quality (1-100) a JPEG file was saved at, estimated from its luminance
    quantisation table against the standard one (libjpeg's scaling, inverted on the table's
    mean ratio; a non-standard table gives the quality whose standard table has the same mean
    scaling); None for other formats or unreadable headers. Reads the header only."""
    try:
        fh = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else Path(source)
        with Image.open(fh) as img:
            if img.format != "JPEG":
                return None
            tables = getattr(img, "quantization", None) or {}
            luma = tables.get(0)
        if luma is None or len(luma) != 64:
            return None
        scale = float(np.mean(np.asarray(luma, dtype=np.float64) / _STD_LUMA) * 100.0)
    except (OSError, SyntaxError, ValueError):
        return None
    if not scale > 0:
        return None
    q = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return float(min(max(q, 1.0), 100.0))


def read_image_info(source: str | Path | bytes, *, name: str | None = None, max_pixels: int | None = None,
                    warn: bool = True) -> tuple[np.ndarray, str | None]:
    """`read_image`, and the photo's `colour_note` (None for a colour photo). With ``warn`` a
    note is also issued as an `AcneKitWarning` naming the photo (the CLI prints one line)."""
    name = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "<upload>")
    img = _open(source, name)
    try:
        _check_pixels(img.size[0], img.size[1], name, max_pixels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.load()
            mode = img.mode
            upright = ImageOps.exif_transpose(img) or img
            # to an array before the file is closed: upright / to_rgb may return `img` itself
            rgb = np.array(to_rgb(upright), dtype=np.uint8)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"corrupt or truncated image ({exc})", path=name) from None
    finally:
        img.close()
    note = colour_note(mode, rgb)
    if note and warn:
        warnings.warn(AcneKitWarning(f"{name}: {note}"), stacklevel=2)
    return rgb, note


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB (alpha composited on white, 16/32-bit rescaled)."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return img.convert("RGB")


def list_images(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders (non-recursive) into a sorted list of image files."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file())
            if not found:
                raise ImageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder", path=p)
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise ImageError("file not found", path=p)
    return out


def encode_image(rgb: np.ndarray, fmt: str = "PNG", quality: int = 92) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if fmt.upper() in ("JPG", "JPEG"):
        img.save(buf, format="JPEG", quality=quality)
    else:
        img.save(buf, format=fmt.upper())
    return buf.getvalue()


def write_image(path: str | Path, rgb: np.ndarray, *, overwrite: bool = False) -> Path:
    """Encode by the suffix (.png, .jpg) and write atomically."""
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}.get(Path(path).suffix.lower(), "PNG")
    return atomic_write_bytes(path, encode_image(rgb, fmt), overwrite=overwrite)


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an RGB array with a good downsampling filter."""
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return rgb
    img = Image.fromarray(rgb)
    return np.array(img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0))
