"""``POST /api/compare``: two uploaded photos (``before``, ``after``) -> the comparison JSON,
the same content as ``acnekit compare`` writes to comparison.json. Photos that cannot be
registered are refused with 422 ``{"error": "not_registered", "detail": ...}``.

Kept apart from `acnekit.web.app` so the page and the single-photo API stay as they are;
`add_compare_routes` is called once from `create_app`. The stand-alone page is
``/static/compare.html`` (with compare.js; no inline script, so the page's CSP holds).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from fastapi import FastAPI, File, Form, UploadFile
from fastapi.responses import JSONResponse

from acnekit.web import service

PATH = "/api/compare"


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
