"""`analyse_face`: everything assessment needs from the face, in one call.

Finds the face (`landmarks.find_face`), measures the iris scale (`iris.iris_scale`), builds
the face geometry (`geometry.from_mesh`: skin polygons, holes, region anchors, rounded as
``summary.face.geometry`` carries them), the skin mask and the regions' skin areas from it.
Degrades clearly: without onnxruntime or the model files, or when no face is found, the
result says so (``summary["found"]`` false, with a note) and assessment goes on without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from acnekit.face import landmarks
from acnekit.face.iris import CHIN, TOP, iris_scale, measure_eye
from acnekit.face.geometry import FaceGeometry, from_mesh
from acnekit.face.mask import SkinMask
from acnekit.face.regions import NAMES, label_points, region_areas, shown


@dataclass
class FaceAnalysis:
    face: landmarks.Face | None
    summary: dict[str, Any]  # summary.face
    iris: dict[str, Any] | None = None  # `iris.iris_scale` result
    mask: SkinMask | None = None
    skin_px2: dict[str, float] = field(default_factory=dict)
    geometry: FaceGeometry | None = None  # what summary.face.geometry carries

    @property
    def found(self) -> bool:
        return self.face is not None

    def lesion_flags(self, xy: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        """Per lesion centre (n, 2): on skin? and its region (None off skin or without a face).
        Without a face every lesion counts (``in_skin`` true)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if self.face is None or self.mask is None:
            return np.ones(len(xy), dtype=bool), [None] * len(xy)
        if self.geometry is not None:
            return self.geometry.flags(xy)
        ins = self.mask.inside(xy)
        lab = label_points(self.face.xy, xy) if len(xy) else np.zeros(0, dtype=np.int64)
        return ins, [NAMES[k] if ok else None for k, ok in zip(lab, ins)]


def not_found(note: str) -> FaceAnalysis:
    return FaceAnalysis(None, {"found": False, "note": note})


def analyse_face(rgb: np.ndarray) -> FaceAnalysis:
    """Face, iris scale, skin mask and region areas of an (H, W, 3) uint8 photo."""
    h, w = rgb.shape[:2]
    try:
        face = landmarks.find_face(rgb)
    except landmarks.FaceModelsUnavailable as exc:
        return not_found(f"face analysis unavailable: {exc}; the whole photo is assessed")
    if face is None:
        return not_found("no face found: the whole photo is assessed, no skin mask, no iris scale")
    eyes = [measure_eye(e, p, face.xy[list(landmarks.EYE_CORNERS[e])]) for e, p in face.irises.items()]
    height_px = float(np.linalg.norm(face.xy[TOP] - face.xy[CHIN]))
    sc = iris_scale(eyes, height_px)
    geometry = from_mesh(face.xy, w, h)
    mask = geometry.mask
    areas = region_areas(geometry.region_index, mask)
    summary = {
        "found": True, "presence": face.presence, "size_px": face.size_px(), "height_px": height_px,
        "irises": sc["eyes"], "skin_area_px2": mask.area_px2(), "regions_shown": shown(areas),
        "region_skin_area_px2": areas,
        "model": "MediaPipe face_landmark + iris_landmark (Apache-2.0), ONNX",
        "geometry": geometry.to_json(),
    }
    return FaceAnalysis(face, summary, sc, mask, areas, geometry)


def choose_scale(given, analysis: FaceAnalysis):
    """The assessment's `acnekit.scale.Scale`: the one given (``--px-per-mm`` / ``--ruler``)
    when known, else the iris scale, else none (with the reason)."""
    from acnekit.scale import from_iris

    if given.known:
        return given
    if analysis.iris is None:
        return from_iris(None, None, analysis.summary.get("note", "no face found"))
    return from_iris(analysis.iris["px_per_mm"], analysis.iris["uncertainty"], analysis.iris["note"])


def lesion_extras(in_skin: np.ndarray, labels: list[str | None]) -> list[dict[str, Any]]:
    """Per-lesion JSON fields: ``in_skin`` and ``region``."""
    return [{"in_skin": bool(s), "region": r} for s, r in zip(in_skin, labels)]


def flags_of(extras: list[dict[str, Any]] | None, n: int) -> tuple[np.ndarray, list[str | None]]:
    """``in_skin`` (absent = true) and ``region`` (absent = None) from per-lesion dicts."""
    if not extras or len(extras) != n:  # none, or not one per lesion: every lesion counts
        return np.ones(n, dtype=bool), [None] * n
    ins = np.array([e.get("in_skin", True) is not False for e in extras], dtype=bool)
    return ins, [e.get("region") if isinstance(e.get("region"), str) else None for e in extras]


def face_summary(face: dict[str, Any] | None, radius: np.ndarray, in_skin: np.ndarray,
                 labels: list[str | None], px_per_mm: float | None) -> dict[str, Any]:
    """``summary.face`` (with the count of lesions outside the skin) and ``summary.regions``
    (None without a face) for the lesions' radii, flags and regions."""
    from acnekit.face.regions import region_summary

    n_out = int((~in_skin).sum())
    out: dict[str, Any] = {"face": None if face is None else {**face, "outside_skin": n_out}, "regions": None}
    if face and face.get("found") and face.get("region_skin_area_px2"):
        keep = np.asarray(in_skin, dtype=bool)
        out["regions"] = region_summary(np.asarray(radius)[keep], [r for r, k in zip(labels, keep) if k],
                                        face["region_skin_area_px2"], px_per_mm)
    return out
