"""Register AFTER onto BEFORE: a 2x3 similarity (or affine) transform from skin texture.

Both photos are reduced to grey at ``WORK_SIDE`` pixels on the long side, contrast-equalised
(CLAHE, so pores and fine skin texture give keypoints), ORB keypoints are taken on
skin-coloured pixels only (so a shared background cannot register two different faces, and
red lesions, which change between visits, do not steer the fit), matched with the
ratio test, and the transform is fitted with RANSAC (`cv2.estimateAffinePartial2D`, a
4-degree-of-freedom similarity: rotation, uniform scale, shift; or `estimateAffine2D`).
The result maps AFTER's full-resolution pixels onto BEFORE's.

The registration is refused (`RegistrationError`, one line) when it is not trustworthy:
too few matches or RANSAC inliers, a low inlier ratio, a scale change beyond ``MAX_SCALE``,
or too little overlap of the two frames. Unrelated photos (another face, another region)
fail these gates: their matches do not agree on one transform.

``hint`` is the hook for face landmarks (or any prior): a 2x3 AFTER->BEFORE matrix; only
feature matches that land within ``hint_tol`` (a share of BEFORE's long side) of where the
hint puts them are used, and the result is still fitted, and gated, on texture; then every
match (near the hint or not) that the fit agrees with joins, and the fit is redone on them,
so the inliers (and the support polygon) cover as much as without a hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from acnekit.errors import AcneKitError

WORK_SIDE = 1200  # long side (px) at which keypoints are found
N_FEATURES = 4000
RATIO = 0.8  # Lowe's ratio test
RANSAC_PX = 3.0  # inlier threshold at the working scale
MIN_MATCHES = 12
MIN_INLIERS = 25
MIN_INLIER_RATIO = 0.2
MAX_SCALE = 3.0  # AFTER may be at most 3x larger or smaller than BEFORE
MIN_OVERLAP = 0.2  # share of BEFORE covered by warped AFTER
MODELS = ("similarity", "affine")
SKIN_CR, SKIN_CB = (133, 180), (77, 135)  # skin-coloured pixels (YCrCb), after Chai & Ngan 1999
MIN_SKIN = 0.05


class RegistrationError(AcneKitError):
    """The two photos cannot be registered (another face or region, too few inliers, a
    degenerate transform)."""


@dataclass
class Registration:
    """``matrix``: 2x3 float, AFTER pixel (x, y, 1) -> BEFORE pixel. Quality: ``inliers``
    RANSAC inliers of ``matches`` ratio-test matches, ``median_error_px`` their median
    reprojection error in BEFORE's full-resolution pixels, ``overlap`` the share of BEFORE's
    frame that AFTER covers."""

    matrix: np.ndarray
    model: str
    keypoints: tuple[int, int]
    matches: int
    inliers: int
    median_error_px: float
    overlap: float
    hint_used: bool = False
    inlier_points: np.ndarray | None = None  # (k, 2, 2): [after_xy, before_xy] in full-res pixels
    method: str = "texture"  # "landmarks+texture" when a face-landmark hint seeded the fit
    hint_note: str | None = None  # why a landmark hint was not used (no face, rejected)

    @property
    def inlier_ratio(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0

    @property
    def scale(self) -> float:
        """Linear scale AFTER -> BEFORE (sqrt |det|)."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    @property
    def rotation_deg(self) -> float:
        """Rotation AFTER -> BEFORE in degrees, positive clockwise as displayed (y down)."""
        a = self.matrix[:, :2]
        return float(np.degrees(np.arctan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1])))

    def support(self, margin: float) -> np.ndarray | None:
        """Where the transform is supported: the convex hull of the inliers' BEFORE points,
        grown by ``margin`` px (an octagon around each vertex); (k, 2) float, or None."""
        import cv2

        if self.inlier_points is None or len(self.inlier_points) < 3:
            return None
        pts = self.inlier_points[:, 1].astype(np.float32)
        hull = cv2.convexHull(pts).reshape(-1, 2)
        ang = np.arange(8) * np.pi / 4
        ring = np.column_stack([np.cos(ang), np.sin(ang)]) * margin
        grown = (hull[:, None, :] + ring[None, :, :]).reshape(-1, 2).astype(np.float32)
        return cv2.convexHull(grown).reshape(-1, 2).astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": "after->before",
            "model": self.model,
            "matrix": [[float(v) for v in row] for row in self.matrix],
            "scale": self.scale,
            "rotation_deg": self.rotation_deg,
            "translation_px": [float(self.matrix[0, 2]), float(self.matrix[1, 2])],
            "quality": {"keypoints": list(self.keypoints), "matches": self.matches, "inliers": self.inliers,
                        "inlier_ratio": self.inlier_ratio, "median_reprojection_error_px": self.median_error_px,
                        "overlap": self.overlap},
            "method": self.method,
            "description": ("face-landmark similarity as a prior, refined and verified on texture: "
                            if self.method == "landmarks+texture" else "") + f"ORB keypoints on skin-coloured pixels of CLAHE grey at {WORK_SIDE} px long side, ratio test {RATIO}, "
                      f"RANSAC {self.model} ({RANSAC_PX:g} px at that scale)",
            "hint_used": self.hint_used,
            "hint_note": self.hint_note,
        }


def fit_similarity(src_xy: np.ndarray, dst_xy: np.ndarray) -> np.ndarray | None:
    """2x3 similarity mapping ``src_xy`` onto ``dst_xy`` (corresponding (n, 2) points, e.g. the
    468 face-mesh points of AFTER and BEFORE), robust to a minority of moved points (least
    median of squares, refined); None when it cannot be fitted."""
    import cv2

    src = np.asarray(src_xy, dtype=np.float32).reshape(-1, 2)
    dst = np.asarray(dst_xy, dtype=np.float32).reshape(-1, 2)
    if len(src) < 3 or len(src) != len(dst):
        return None
    cv2.setRNGSeed(0)
    m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS, refineIters=20)
    if m is None or not np.isfinite(m).all() or np.linalg.det(m[:, :2]) <= 0:
        return None
    return np.asarray(m, dtype=np.float64)


def apply(matrix: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(n, 2) points through a 2x3 matrix."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return xy @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def skin_mask(small_rgb: np.ndarray) -> np.ndarray | None:
    """uint8 mask (255 = skin-coloured, YCrCb box of ``SKIN_CR`` / ``SKIN_CB``), slightly
    shrunk so hair and background edges give no keypoints; None (use the whole photo) when
    less than ``MIN_SKIN`` of it is skin-coloured."""
    import cv2

    ycc = cv2.cvtColor(small_rgb, cv2.COLOR_RGB2YCrCb)
    mask = cv2.inRange(ycc, (0, SKIN_CR[0], SKIN_CB[0]), (255, SKIN_CR[1], SKIN_CB[1]))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    mask = cv2.erode(mask, np.ones((7, 7), np.uint8))
    return mask if mask.mean() / 255 >= MIN_SKIN else None


def _grey(rgb: np.ndarray) -> tuple[np.ndarray, float, np.ndarray | None]:
    import cv2

    h, w = rgb.shape[:2]
    k = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA) \
        if k < 1 else np.ascontiguousarray(rgb)
    g = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    g = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(g)
    return g, small.shape[1] / w, skin_mask(small)


def _overlap(matrix: np.ndarray, after_hw: tuple[int, int], before_hw: tuple[int, int], step: int = 64) -> float:
    """Share of BEFORE's frame covered by the warped AFTER frame (on a coarse grid)."""
    import cv2

    hb, wb = before_hw
    ha, wa = after_hw
    corners = apply(matrix, np.array([[0, 0], [wa, 0], [wa, ha], [0, ha]], dtype=np.float64))
    k = step / max(hb, wb)
    mask = np.zeros((max(1, round(hb * k)), max(1, round(wb * k))), np.uint8)
    cv2.fillConvexPoly(mask, np.round(corners * k).astype(np.int32), 1)
    return float(mask.mean())


def _fail(what: str) -> RegistrationError:
    return RegistrationError(f"cannot register the two photos: {what}; are they the same face and region?")


@dataclass
class Matches:
    """Ratio-test keypoint matches of two photos (full-resolution pixels), reusable by
    several `register` calls (with and without a hint)."""

    src: np.ndarray  # (n, 2) AFTER px
    dst: np.ndarray  # (n, 2) BEFORE px
    keypoints: tuple[int, int]  # before, after
    kb: float  # BEFORE's working scale (working px per photo px)


def match_features(before_rgb: np.ndarray, after_rgb: np.ndarray) -> Matches:
    """ORB keypoints on skin-coloured pixels of both photos, matched with the ratio test.
    Raises `RegistrationError` when either photo has too few keypoints."""
    import cv2

    gb, kb, mb = _grey(before_rgb)
    ga, ka, ma = _grey(after_rgb)
    orb = cv2.ORB_create(nfeatures=N_FEATURES)
    kpb, db = orb.detectAndCompute(gb, mb)
    kpa, da = orb.detectAndCompute(ga, ma)
    if db is None or da is None or len(kpb) < MIN_MATCHES or len(kpa) < MIN_MATCHES:
        raise _fail(f"too few keypoints ({0 if db is None else len(kpb)} before, {0 if da is None else len(kpa)} after)")
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    src = np.float64([kpa[m.queryIdx].pt for m in good]).reshape(-1, 2) / ka  # AFTER full-res px
    dst = np.float64([kpb[m.trainIdx].pt for m in good]).reshape(-1, 2) / kb  # BEFORE full-res px
    return Matches(src, dst, (len(kpb), len(kpa)), kb)


def register(before_rgb: np.ndarray, after_rgb: np.ndarray, *, hint: np.ndarray | None = None,
             hint_tol: float = 0.05, model: str = "similarity", matches: Matches | None = None) -> Registration:
    """Register ``after_rgb`` onto ``before_rgb`` (both (H, W, 3) uint8). Raises
    `RegistrationError` when the photos cannot be registered. ``matches``: the two photos'
    `match_features` when already found."""
    import cv2

    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    mt = matches if matches is not None else match_features(before_rgb, after_rgb)
    cv2.setRNGSeed(0)  # RANSAC is random: same photos, same transform
    src, dst, kb = mt.src, mt.dst, mt.kb
    hint_used = hint is not None
    if hint_used:
        hint = np.asarray(hint, dtype=np.float64)
        if hint.shape != (2, 3) or not np.isfinite(hint).all():
            raise ValueError(f"hint must be a finite 2x3 matrix, got shape {hint.shape}")
        tol = hint_tol * max(before_rgb.shape[:2])
        near = np.linalg.norm(apply(hint, src) - dst, axis=1) <= tol
        src_all, dst_all = src, dst
        src, dst = src[near], dst[near]
    n = len(src)
    if n < MIN_MATCHES:
        raise _fail(f"only {n} keypoint matches (need {MIN_MATCHES})")
    fit = cv2.estimateAffinePartial2D if model == "similarity" else cv2.estimateAffine2D
    matrix, mask = fit(src.astype(np.float32), dst.astype(np.float32), method=cv2.RANSAC,
                       ransacReprojThreshold=RANSAC_PX / kb, maxIters=5000, confidence=0.999, refineIters=20)
    if matrix is None or mask is None:
        raise _fail("no transform fits the keypoint matches")
    inl = mask.ravel().astype(bool)
    k = int(inl.sum())
    if k < MIN_INLIERS:
        raise _fail(f"only {k} of {n} keypoint matches agree on one transform (need {MIN_INLIERS})")
    if k / n < MIN_INLIER_RATIO:
        raise _fail(f"only {k} of {n} keypoint matches ({k / n:.0%}) agree on one transform "
                    f"(need {MIN_INLIER_RATIO:.0%})")
    matrix = np.asarray(matrix, dtype=np.float64)
    det = float(np.linalg.det(matrix[:, :2]))
    if not np.isfinite(matrix).all() or det <= 0:
        raise _fail("the transform is degenerate (mirrored or collapsed)")
    s = np.sqrt(det)
    sv = np.linalg.svd(matrix[:, :2], compute_uv=False)
    if not (1 / MAX_SCALE <= s <= MAX_SCALE) or sv[0] / sv[1] > 1.5:
        raise _fail(f"implausible scale change {s:.2f} (anisotropy {sv[0] / sv[1]:.2f})")
    overlap = _overlap(matrix, after_rgb.shape[:2], before_rgb.shape[:2])
    if overlap < MIN_OVERLAP:
        raise _fail(f"the photos overlap on only {overlap:.0%} of the before frame (need {MIN_OVERLAP:.0%})")
    if hint_used:  # grow: every match the refined fit agrees with, near the hint or not (the support)
        grown = np.linalg.norm(apply(matrix, src_all) - dst_all, axis=1) <= RANSAC_PX / kb
        if grown.sum() > k:
            m2, mask2 = fit(src_all[grown].astype(np.float32), dst_all[grown].astype(np.float32), method=cv2.RANSAC,
                            ransacReprojThreshold=RANSAC_PX / kb, maxIters=2000, confidence=0.999, refineIters=20)
            if m2 is not None and mask2 is not None and np.isfinite(m2).all() and np.linalg.det(m2[:, :2]) > 0:
                matrix = np.asarray(m2, dtype=np.float64)
                src, dst = src_all[grown], dst_all[grown]
                inl = mask2.ravel().astype(bool)
                k, n = int(inl.sum()), len(src_all)  # quality over all matches, as without a hint
                overlap = _overlap(matrix, after_rgb.shape[:2], before_rgb.shape[:2])
    err = np.linalg.norm(apply(matrix, src[inl]) - dst[inl], axis=1)
    return Registration(matrix, model, mt.keypoints, n, k, float(np.median(err)), overlap, hint_used,
                        np.stack([src[inl], dst[inl]], axis=1), "landmarks+texture" if hint_used else "texture")


def warp_after(after_rgb: np.ndarray, matrix: np.ndarray, before_hw: tuple[int, int],
               scale: float = 1.0) -> np.ndarray:
    """AFTER warped into BEFORE's frame (``before_hw``), optionally at ``scale`` of it
    (display copies); outside AFTER's frame is black."""
    import cv2

    hb, wb = before_hw
    m = np.asarray(matrix, dtype=np.float64).copy()
    img = np.ascontiguousarray(after_rgb)
    if scale != 1.0:  # resize AFTER first (area averaging when shrinking), then warp
        ha, wa = img.shape[:2]
        img = cv2.resize(img, (max(1, round(wa * scale)), max(1, round(ha * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        fx, fy = img.shape[1] / wa, img.shape[0] / ha
        m[:, :2] = scale * m[:, :2] @ np.diag([1 / fx, 1 / fy])
        m[:, 2] *= scale
    size = (max(1, round(wb * scale)), max(1, round(hb * scale)))
    return cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(0, 0, 0))
