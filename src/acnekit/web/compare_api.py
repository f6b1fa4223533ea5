"""``POST /api/compare``: two uploaded photos (``before``, ``after``) -> the comparison JSON,
the same content as ``acnekit compare`` writes to comparison.json. Photos that cannot be
registered are refused with 422 ``{"error": "not_registered", "detail": ...}``.

Kept apart from `acnekit.web.app` so the page and the single-photo API stay as they are;
`add_compare_routes` is called once from `create_app`. The stand-alone page is
``/static/compare.html`` (with compare.js; no inline script, so the page's CSP holds).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import math

from fastapi import Body, FastAPI, File, Form, UploadFile
from fastapi.responses import JSONResponse

from acnekit.errors import DatasetError, short_repr
from acnekit.web import service

PATH = "/api/compare"
REMATCH_PATH = "/api/compare/rematch"
MAX_POLYGON = 256  # common-region vertices accepted
BOUND = 10.0 * service.MAX_SIDE  # pixel coordinates, shifts and reprojection errors accepted
REMATCH_NOTE = ("re-matched after corrections by the reviewer, without re-detection: lesions removed are kept "
                "with removed: true and not counted, lesions added have source: added; the registration, the "
                "lesions outside the common skin and the faint-detection support are the first comparison's")


def compare_uploads(before: bytes, before_name: str | None, after: bytes, after_name: str | None, detector, *,
                    max_pixels: int, px_per_mm: float | None = None, ruler: str | None = None) -> dict[str, Any]:
    """Comparison JSON of two uploaded photos (raises `RegistrationError` when they cannot be
    registered, `TooLarge` over the pixel limit)."""
    from acnekit.compare import compare_photos

    lb, la = service.upload_label(before_name), service.upload_label(after_name)
    service.check_pixels(before, lb, max_pixels)
    service.check_pixels(after, la, max_pixels)
    cmp = compare_photos(bytes(before), bytes(after), detector, px_per_mm=px_per_mm, ruler=ruler,
                         max_pixels=max_pixels, names=(lb, la))
    return cmp.to_dict()


def add_compare_routes(app: FastAPI, *, detector, pool, read_limited: Callable[..., Awaitable[bytes]],
                       upload_limit: int, max_pixels: int) -> None:
    from acnekit.compare.register import RegistrationError

    @app.exception_handler(RegistrationError)
    async def _not_registered(request, exc: RegistrationError):
        return JSONResponse({"error": "not_registered", "detail": str(exc)}, status_code=422)

    @app.post(PATH, summary="Compare two visits of one face",
              responses={413: {"description": "upload or image over the limit"},
                         422: {"description": "not an image, a bad scale, or photos that cannot be registered"},
                         503: {"description": "all worker slots taken; retry later"}})
    async def compare(before: UploadFile = File(..., description="the earlier photo"),
                      after: UploadFile = File(..., description="the later photo"),
                      px_per_mm: float | None = Form(None, description="BEFORE's scale, pixels per millimetre"),
                      ruler: str | None = Form(None, description="X1,Y1,X2,Y2,MM: two ruler points on BEFORE")):
        b = await read_limited(before, upload_limit, "before photo")
        a = await read_limited(after, upload_limit, "after photo")
        result = await pool.run(compare_uploads, b, before.filename, a, after.filename, detector,
                                max_pixels=max_pixels, px_per_mm=px_per_mm, ruler=ruler or None)
        return JSONResponse(result)

    @app.post(REMATCH_PATH, summary="Re-match a comparison after corrections (no re-detection)",
              responses={422: {"description": "an invalid comparison JSON (the message names the field)"},
                         503: {"description": "all worker slots taken; retry later"}})
    async def rematch(comparison: dict[str, Any] = Body(..., description="the comparison JSON with the lesions "
                                                                        "corrected (removed: true, source: added)")):
        result = await pool.run(rematch_comparison, comparison, max_pixels=max_pixels)
        return JSONResponse(result)


def _obj(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise DatasetError(f"must be an object, got {short_repr(v)}", where=where)
    return v


def _finite(v: Any, where: str, lo: float = -BOUND, hi: float = BOUND) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise DatasetError(f"must be a finite number in [{lo:g}, {hi:g}], got {short_repr(v)}", where=where)
    return float(v)


def _matrix(reg: dict[str, Any]) -> list[list[float]]:
    m = reg.get("matrix")
    if not (isinstance(m, list) and len(m) == 2 and all(isinstance(r, list) and len(r) == 3 for r in m)):
        raise DatasetError(f"must be a 2x3 matrix (AFTER px -> BEFORE px), got {short_repr(m)}",
                           where="registration.matrix")
    out = [[_finite(v, f"registration.matrix[{i}][{j}]", *((-BOUND, BOUND) if j == 2 else (-20, 20)))
            for j, v in enumerate(r)] for i, r in enumerate(m)]
    scale = math.sqrt(abs(out[0][0] * out[1][1] - out[0][1] * out[1][0]))
    if not 0.05 <= scale <= 20:
        raise DatasetError(f"scale {scale:.3g} is not a plausible registration", where="registration.matrix")
    return out


def _prior(rows: Any, side: str, ids: dict[int, int]) -> tuple[set[int], set[int]]:
    """(outside, faint) new ids of the first comparison's counted lesions of one side."""
    if rows is None:
        return set(), set()
    if not isinstance(rows, list) or len(rows) > service.MAX_LESIONS:
        raise DatasetError(f"must be a list of at most {service.MAX_LESIONS} rows", where=f"lesions.{side}")
    outside, faint = set(), set()
    for k, r in enumerate(rows):
        r = _obj(r, f"lesions.{side}[{k}]")
        i = r.get("id")
        if not isinstance(i, int) or isinstance(i, bool) or i not in ids:
            continue  # a row without its lesion: nothing to carry over
        if r.get("status") == "outside" and r.get("counted", True) is not False:
            outside.add(ids[i])
        if r.get("faint") is True:
            faint.add(ids[i])
    return outside, faint


def rematch_comparison(obj: Any, *, max_pixels: int) -> dict[str, Any]:
    """A comparison JSON with corrected lesions (``removed: true`` kept, ``source: "added"``)
    re-matched by `acnekit.compare.match.compare_lesions` without re-detection: each side
    is checked and re-summarised as an edited assessment (`service.rebuild`, its lesions
    renumbered in order), then matched with the first comparison's registration matrix,
    common region, outside lesions and faint support. Raises `DatasetError` (422)."""
    import numpy as np

    from acnekit import __version__
    from acnekit.compare.match import compare_lesions

    obj = _obj(obj, "$")
    reg = _obj(obj.get("registration"), "registration")
    matrix = _matrix(reg)
    quality = reg.get("quality")
    err = quality.get("median_reprojection_error_px") if isinstance(quality, dict) else None
    err = 0.0 if err is None else _finite(err, "registration.quality.median_reprojection_error_px", 0.0)
    assessments = _obj(obj.get("assessments"), "assessments")
    summaries = _obj(obj.get("summaries") if obj.get("summaries") is not None else {}, "summaries")
    prior_rows = _obj(obj.get("lesions") if obj.get("lesions") is not None else {}, "lesions")
    sides, prior = {}, {}
    for side in ("before", "after"):
        a = _obj(assessments.get(side), f"assessments.{side}")
        summ = summaries.get(side)
        if summ is not None:
            _obj(summ, f"summaries.{side}")
        try:
            ed = service.rebuild({"images": a.get("images"), "annotations": a.get("annotations"),
                                  "summary": summ}, max_pixels=max_pixels)
        except DatasetError as exc:
            raise DatasetError(exc.detail, where=f"assessments.{side}" + (f".{exc.where}" if exc.where else "")) from None
        anns = a.get("annotations") or []
        ids = {int(x["id"]): k for k, x in enumerate(anns) if isinstance(x.get("id"), int)}
        prior[side] = _prior(prior_rows.get(side), side, ids)
        d = ed.to_dict()
        if summ is not None and isinstance(summ.get("scale"), dict) and side == "after":
            d["summary"]["scale"] = {**summ["scale"], **d["summary"]["scale"]}
        sides[side] = d
    region = obj.get("common_region")
    support, skin_area = None, None
    if region is not None:
        region = _obj(region, "common_region")
        poly = region.get("polygon")
        if poly is not None:
            if not (isinstance(poly, list) and len(poly) <= MAX_POLYGON
                    and all(isinstance(p, list) and len(p) == 2 for p in poly)):
                raise DatasetError(f"must be a list of at most {MAX_POLYGON} [x, y] points", where="common_region.polygon")
            support = np.array([[_finite(v, "common_region.polygon") for v in p] for p in poly], dtype=np.float64)
            support = support.reshape(-1, 2)
        if region.get("skin_area_px2") is not None:
            skin_area = _finite(region["skin_area_px2"], "common_region.skin_area_px2", 0.0, BOUND**2)
    b, a = sides["before"], sides["after"]
    body = compare_lesions(b, a, np.array(matrix), px_per_mm=b["summary"]["scale"]["px_per_mm"],
                           median_error_px=err, support=support if support is not None and len(support) >= 3 else None,
                           outside_ids=(prior["before"][0], prior["after"][0]),
                           faint_ids=(prior["before"][1], prior["after"][1]), skin_area_px2=skin_area)
    for where, v in (("registration", reg), ("hysteresis", obj.get("hysteresis"))):
        service._small(v, where)
    return {
        "info": {"description": "acnekit comparison of two visits: AFTER registered onto BEFORE",
                 "acnekit_version": __version__, "frame": "before photo pixels", "rematched": REMATCH_NOTE},
        "photos": {"before": b["images"][0], "after": a["images"][0]},
        "counts": body["counts"], "links": body["links"], "changes": body["changes"],
        "registration": reg, "gate": body["gate"], "hysteresis": obj.get("hysteresis"),
        "common_region": body["common_region"], "lesions": body["lesions"],
        "corrections": {"before": b["summary"]["edits"], "after": a["summary"]["edits"], "note": REMATCH_NOTE},
        "summaries": {"before": b["summary"], "after": a["summary"]},
        "assessments": {"before": {k: b[k] for k in ("images", "annotations")},
                        "after": {k: a[k] for k in ("images", "annotations")}},
    }
