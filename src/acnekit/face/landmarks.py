"""Face landmarks and irises from MediaPipe's face-mesh and iris models (ONNX, offline).

`find_face(rgb)` returns a `Face` (468 mesh points, both irises, the mesh's face-presence
score) in the photo's pixels, or None. The models are the Apache-2.0 MediaPipe
``face_landmark`` (192x192 input, 468 x/y/z points + a face-presence logit) and
``iris_landmark`` (64x64 eye crop, 71 eye-contour points + 5 iris points) converted once to
ONNX by ``tools/convert_face_models.py`` (see ``models/NOTICE.json``); they are run with
onnxruntime and never downloaded.

ROI strategy (ACNE04 photos are close ~70 degree side views, which box face detectors miss):
the mesh runs on a square region of interest (centre, side, roll). The first pass takes the
whole photo padded to a square; each further pass re-centres the ROI on the landmarks of the
previous one (their bounding box x 1.5, rolled so the eye line is level, as MediaPipe's
tracking does) until the ROI settles (`settle_roi`). If the whole-photo pass finds no face, a few smaller centred squares are
tried. The face counts as found when the refined pass's presence score is >= `PRESENCE_MIN`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

MODELS_DIR = Path(__file__).resolve().parent / "models"
MESH_SIZE = 192
IRIS_SIZE = 64
PRESENCE_MIN = 0.5
WORK_SIDE = 1024  # photos are first downscaled to this long side: the 64 px iris crop limits precision anyway
# The ROI is refined until its side changes by less than ROI_TOL (and its centre moves less than
# ROI_TOL x side), at most MAX_PASSES mesh passes. The mesh's face size follows the ROI it is
# given (a larger ROI gives a larger face), so the ROI converges slowly, from above on a photo
# padded with background: with a fixed 3 passes a 50% grey border made the face up to 5% larger
# on the full-resolution photos (11% on one val photo), and the face rule shrank the photo by
# as much (counts 33 -> 26, 85 -> 72). A secant step on the side (`settle_roi`) reaches the
# fixed point in about 5 passes: padding/halving then moves the face size by at most 3%.
MAX_PASSES = 10
ROI_TOL = 0.005
ROI_SCALE = 1.5  # mesh ROI side = landmark bounding box x this (MediaPipe's value)
EYE_SCALE = 2.3  # iris ROI side = eye-corner distance x this (MediaPipe's value)
EYE_JITTER = (0.9, 1.0, 1.1)  # the iris model runs on ROIs of these relative sides; points averaged
FALLBACK_ROIS = ((0.75, 0.5, 0.45), (0.75, 0.5, 0.55), (0.6, 0.5, 0.5))  # side, cx, cy (fractions)
# eye corners (outer, inner) of the two eyes in mesh indices; "left"/"right" as in the photo
EYE_CORNERS = {"left": (33, 133), "right": (362, 263)}


class FaceModelsUnavailable(RuntimeError):
    """onnxruntime or the model files are missing."""


@dataclass
class Face:
    """One face in photo pixels. ``mesh`` (468, 3): x, y and depth z (pixels, same scale as x);
    ``irises`` maps "left"/"right" (as seen in the photo) to (5, 2) iris points (centre, then
    four on the iris boundary); ``presence`` the mesh's face-presence probability."""

    mesh: np.ndarray
    presence: float
    irises: dict[str, np.ndarray] = field(default_factory=dict)
    roi: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # cx, cy, side, angle (rad)

    @property
    def xy(self) -> np.ndarray:
        return self.mesh[:, :2]

    def size_px(self) -> float:
        """Face size: RMS 3D distance of the mesh points to their centroid (pixels). Roughly
        independent of head yaw (depth counts as much as width), proportional to photo scale."""
        c = self.mesh - self.mesh.mean(axis=0)
        return float(np.sqrt(np.mean(np.sum(c**2, axis=1))))

    def scaled(self, k: float) -> "Face":
        cx, cy, s, a = self.roi
        return Face(self.mesh * k, self.presence, {e: p * k for e, p in self.irises.items()}, (cx * k, cy * k, s * k, a))


_lock = threading.Lock()
_sessions: dict[str, object] = {}


def available() -> bool:
    try:
        _session("face_landmark")
        _session("iris_landmark")
    except FaceModelsUnavailable:
        return False
    return True


def _session(name: str):
    with _lock:
        if name not in _sessions:
            try:
                import onnxruntime as ort
            except ImportError:
                raise FaceModelsUnavailable("onnxruntime is not installed (pip install 'acnekit[onnx]')") from None
            path = MODELS_DIR / f"{name}.onnx"
            if not path.exists():
                raise FaceModelsUnavailable(f"face model missing: {path} (reinstall acnekit)")
            opt = ort.SessionOptions()
            opt.intra_op_num_threads = 2
            opt.inter_op_num_threads = 1
            opt.log_severity_level = 3
            _sessions[name] = ort.InferenceSession(str(path), opt, providers=["CPUExecutionProvider"])
        return _sessions[name]


def _run(name: str, x: np.ndarray) -> list[np.ndarray]:
    return _session(name).run(None, {"input": x})


# ---------------------------------------------------------------------------- ROI crops
def roi_crop(img: Image.Image, roi: tuple[float, float, float, float], size: int, flip: bool = False) -> np.ndarray:
    """The ``size`` x ``size`` float crop (values 0..1) of the rotated square ``roi`` = (cx, cy,
    side, angle): output pixel (u, v) samples the photo at centre + R(angle) (uv/size - 1/2) side."""
    cx, cy, side, ang = roi
    # downscale first so bilinear sampling does not alias (about 2 photo pixels per output pixel)
    k = min(1.0, 2.0 * size / side)
    if k < 0.999:
        img = img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))), Image.BILINEAR, reducing_gap=2.0)
        cx, cy, side = cx * k, cy * k, side * k
    c, s = math.cos(ang), math.sin(ang)
    step = side / size
    sx = -step if flip else step
    u0 = side / 2 if flip else -side / 2  # PIL samples output pixel centres (u + 1/2, v + 1/2)
    v0 = -side / 2
    data = (c * sx, -s * step, cx + c * u0 - s * v0, s * sx, c * step, cy + s * u0 + c * v0)
    crop = img.transform((size, size), Image.AFFINE, data, resample=Image.BILINEAR, fillcolor=(0, 0, 0))
    return np.asarray(crop, dtype=np.float32)[None] / 255.0


def from_roi(pts: np.ndarray, roi: tuple[float, float, float, float], size: int, flip: bool = False) -> np.ndarray:
    """Points (n, 2 or 3) in crop pixels -> photo pixels (z scaled like x)."""
    cx, cy, side, ang = roi
    k = side / size
    u = pts[:, 0] * k - side / 2
    if flip:
        u = -u
    v = pts[:, 1] * k - side / 2
    c, s = math.cos(ang), math.sin(ang)
    out = pts.astype(np.float64).copy()
    out[:, 0] = cx + c * u - s * v
    out[:, 1] = cy + s * u + c * v
    if out.shape[1] > 2:
        out[:, 2] = pts[:, 2] * k
    return out


def roi_from_points(xy: np.ndarray, i0: int, i1: int, scale: float) -> tuple[float, float, float, float]:
    """A square ROI around ``xy``: rolled so that the line from point i0 to i1 is horizontal,
    side = the larger extent in that rolled frame x ``scale``."""
    d = xy[i1] - xy[i0]
    ang = math.atan2(d[1], d[0])
    c, s = math.cos(ang), math.sin(ang)
    rot = xy @ np.array([[c, -s], [s, c]])  # coordinates in the rolled frame
    lo, hi = rot.min(axis=0), rot.max(axis=0)
    mid = (lo + hi) / 2
    centre = np.array([[c, -s], [s, c]]) @ mid  # back to photo axes
    return float(centre[0]), float(centre[1]), float(max(hi - lo) * scale), ang


# ---------------------------------------------------------------------------- models
def mesh_pass(img: Image.Image, roi) -> tuple[np.ndarray, float]:
    lm, flag = _run("face_landmark", roi_crop(img, roi, MESH_SIZE))
    presence = 1.0 / (1.0 + math.exp(-float(np.ravel(flag)[0])))
    return from_roi(lm.reshape(-1, 3), roi, MESH_SIZE), presence


def iris_pass(img: Image.Image, mesh_xy: np.ndarray, eye: str, jitter: tuple[float, ...] = EYE_JITTER) -> np.ndarray:
    """(5, 2) iris points in photo pixels for one eye; the right eye is mirrored for the model
    (trained on left eyes), as MediaPipe does."""
    i0, i1 = EYE_CORNERS[eye]
    p0, p1 = mesh_xy[i0], mesh_xy[i1]
    mid = (p0 + p1) / 2
    d = p1 - p0  # eye line, pointing right in the photo for both eyes
    flip = eye == "right"
    pts = []
    for j in jitter:  # a few ROI sizes, averaged: steadier than one crop (about +-5% each)
        roi = (float(mid[0]), float(mid[1]), float(np.linalg.norm(d)) * EYE_SCALE * j, math.atan2(d[1], d[0]))
        _, iris = _run("iris_landmark", roi_crop(img, roi, IRIS_SIZE, flip=flip))
        pts.append(from_roi(iris.reshape(5, 3), roi, IRIS_SIZE, flip=flip)[:, :2])
    return np.mean(pts, axis=0)


def settle_roi(img: Image.Image, roi, max_passes: int = MAX_PASSES,
               tol: float = ROI_TOL) -> tuple[np.ndarray, float, tuple, int]:
    """(mesh, presence, roi, passes): the mesh on a ROI that is (nearly) a fixed point of
    "fit the ROI to the mesh found in it". The side s maps to f(s), the side of the ROI fitted to
    the mesh found on a ROI of side s; plain iteration (s <- f(s)) contracts slowly (f' near
    0.9), so once two passes are known the side takes a secant step towards f(s) = s, by at
    most 30% beyond the last two sides (plain iteration when the secant slope is not negative). Centre and roll take the fitted
    ROI's."""
    mesh, p = mesh_pass(img, roi)
    seen: list[tuple[float, float]] = []  # (side given, side fitted)
    passes = 1
    while passes < max_passes:
        fit = roi_from_points(mesh[:, :2], EYE_CORNERS["left"][0], EYE_CORNERS["right"][1], ROI_SCALE)
        seen.append((roi[2], fit[2]))
        if abs(fit[2] / roi[2] - 1) < tol and math.hypot(fit[0] - roi[0], fit[1] - roi[1]) < tol * roi[2]:
            break
        side = fit[2]
        if len(seen) >= 2:
            (a0, b0), (a1, b1) = seen[-2:]
            if a1 != a0:
                slope = ((b1 - a1) - (b0 - a0)) / (a1 - a0)  # d(f(s) - s)/ds, negative near a fixed point
                if slope < 0:
                    side = min(max(a1 - (b1 - a1) / slope, min(a1, b1) / 1.3), max(a1, b1) * 1.3)
        roi = (fit[0], fit[1], side, fit[3])
        mesh, p = mesh_pass(img, roi)
        passes += 1
    return mesh, p, roi, passes


def _refine(img: Image.Image, roi) -> tuple[np.ndarray, float, tuple]:
    mesh, p, roi, _ = settle_roi(img, roi)
    return mesh, p, roi


def find_face(rgb: np.ndarray, presence_min: float = PRESENCE_MIN) -> Face | None:
    """The face in an (H, W, 3) uint8 photo, or None when the mesh's presence score stays below
    ``presence_min``. Raises `FaceModelsUnavailable` when onnxruntime or the models are missing."""
    h, w = rgb.shape[:2]
    f = max(1, int(max(h, w) / WORK_SIDE))
    img = Image.fromarray(rgb)
    if f > 1:  # a fast box-filter reduction by an integer factor: reduced x = photo x / f
        img = img.reduce(f)
        h, w = h / f, w / f
    best = None
    starts = [(w / 2, h / 2, float(max(w, h)), 0.0)]
    starts += [(w * cx, h * cy, float(max(w, h)) * sd, 0.0) for sd, cx, cy in FALLBACK_ROIS]
    for roi in starts:
        mesh, p, roi = _refine(img, roi)
        if best is None or p > best[1]:
            best = (mesh, p, roi)
        if p >= presence_min:
            break
    mesh, p, roi = best
    if p < presence_min:
        return None
    face = Face(mesh, p, roi=roi)
    width = {e: float(np.linalg.norm(mesh[i1, :2] - mesh[i0, :2])) for e, (i0, i1) in EYE_CORNERS.items()}
    near = max(width, key=width.get)
    for eye in EYE_CORNERS:  # the nearer eye (the scale's) with jitter, the other (a check) once
        face.irises[eye] = iris_pass(img, mesh[:, :2], eye, EYE_JITTER if eye == near else (1.0,))
    return face if f == 1 else face.scaled(f)
