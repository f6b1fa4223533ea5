"""The acnekit web app: one page for clinicians plus a small JSON API.

``create_app(detector=None, ...)`` builds it; ``acnekit serve`` runs it with uvicorn.

API (OpenAPI schema at ``/openapi.json``; no ``/docs`` page, whose viewer would load from a
CDN and stay blank offline):

* ``GET /api/health``: status, model, limits.
* ``POST /api/assess``: multipart ``file`` (a photo), optional ``px_per_mm`` or ``ruler``
  -> the assessment JSON (Acne04-v2 ``images``/``annotations`` plus ``summary``), the same
  content as ``acnekit assess`` writes.
* ``POST /api/summary``: an (edited) assessment JSON -> the same with the summary recomputed
  by `acnekit.assess.summarise` (the page calls it after every edit: one implementation).
* ``POST /api/report``: multipart ``file`` (the photo) and ``assessment`` (the edited JSON)
  -> the self-contained HTML report.
* ``POST /api/compare``: multipart ``before`` and ``after`` photos -> the comparison JSON
  (`acnekit.web.compare_api`; page: ``/static/compare.html``).
* ``POST /api/compare/rematch``: a comparison JSON with corrected lesions -> the comparison
  re-matched on the same registration, without re-detection.

Errors are JSON ``{"error": code, "detail": message}``: 403 for a POST from another site's
page (Origin check), 413 over the upload or pixel limit, 422 for a non-image, corrupt photo,
implausible scale or invalid assessment (the message names the problem), 503 when all worker
slots are taken (every POST takes one). Every response carries the same security headers
(CSP, nosniff, no framing, no referrer). Uploads are kept in memory up to the upload limit,
never spooled to disk.
"""

from __future__ import annotations

import json
import logging
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Sequence

from fastapi import Body, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartParser

from acnekit import __version__
from acnekit.errors import AcneKitError, DatasetError, ImageError
from acnekit.grading import HAYASHI_UPPER
from acnekit.imageio import max_pixels_default
from acnekit.scale import ScaleError
from acnekit.web import service
from acnekit.web.compare_api import PATH as COMPARE_PATH, REMATCH_PATH, add_compare_routes
from acnekit.web.guard import Gate, Guard, HostCheck, OriginCheck, SecurityHeaders
from acnekit.web.pool import WorkerPool

STATIC = Path(__file__).resolve().parent / "static"
MB = 2**20
FORM_SLACK = 64 * 1024  # multipart framing and the small form fields around the photo
ASSESSMENT_LIMIT = 8 * MB  # an edited assessment JSON (tens of thousands of lesions)
QUEUE = 16  # uploads that may wait for a worker; more get 503
log = logging.getLogger("acnekit.web")

_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
          415: "unsupported",
          422: "invalid", 503: "busy"}


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _status_of(exc: AcneKitError) -> tuple[int, str]:
    if isinstance(exc, service.TooLarge):
        return 413, "too_large"
    if isinstance(exc, ImageError):
        return 422, "bad_image"
    if isinstance(exc, DatasetError):
        return 422, "bad_assessment"
    if isinstance(exc, ScaleError):
        return 422, "bad_scale"
    return 422, "invalid"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
        parts.append(f"{loc or 'request'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _download_name(file_name: str, suffix: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file_name).stem)[:80].strip("._") or "photo"
    return f"{stem}{suffix}"


async def _read_limited(upload: UploadFile, limit: int, what: str) -> bytes:
    """The upload's bytes, read in chunks and refused (413) as soon as they pass ``limit``."""
    chunks, total = [], 0
    while chunk := await upload.read(MB):
        total += len(chunk)
        if total > limit:
            raise service.TooLarge(f"{what} is over the limit of {limit / MB:g} MB",
                                   path=service.upload_label(upload.filename))
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(detector=None, max_upload_mb: float = 25, workers: int = 2, *, queue: int = QUEUE,
               max_pixels: int | None = None, model: str | Path | None = None, bands: Sequence[int] = HAYASHI_UPPER,
               allowed_hosts: Sequence[str] | None = None) -> FastAPI:
    """The app. ``detector``: anything with ``predict(rgb, score_thr=None, work_scale=None,
    source_quality=None) -> Circles`` (the last two only when a face is found: the face
    working scale and the photo file's JPEG quality, as `Detector.predict`),
    ``name``, ``score_threshold`` and ``working_scale`` (default: `Detector.load(model)`,
    the shipped model when ``model`` is None; a `ModelError` is raised here, not at the
    first upload). A detector with a graded head (``graded_threshold``) marks the lesions
    the reference grade counts.
    ``allowed_hosts``: host names the ``Host`` header may give (None: any)."""
    if max_upload_mb <= 0:
        raise ValueError(f"max_upload_mb must be > 0, got {max_upload_mb}")
    if queue < 0:
        raise ValueError(f"queue must be >= 0, got {queue}")
    if detector is None:
        from acnekit.detector.infer import Detector

        detector = Detector.load(model)
    bands = tuple(int(b) for b in bands)
    upload_limit = int(max_upload_mb * MB)
    max_pixels = max_pixels_default() if max_pixels is None else int(max_pixels)
    pool = WorkerPool(workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.shutdown()

    app = FastAPI(title="acnekit", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Detect, count, size and grade acne lesions on a face photo; correct the circles; "
                              "export Acne04-v2 JSON and an HTML report.")
    # Starlette spools a multipart file part over 1 MB to a temporary file on disk; the page
    # promises photos are not stored, so parts stay in memory up to the body limit (the Guard
    # refuses larger bodies before they are read, and admits at most workers + queue at once).
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size,
                                         upload_limit + ASSESSMENT_LIMIT + FORM_SLACK)
    gate = Gate(workers + queue)
    app.add_middleware(Guard, gate=gate, heavy_paths={"/api/assess", "/api/report", "/api/summary", COMPARE_PATH,
                                                    REMATCH_PATH},
                       default_limit=ASSESSMENT_LIMIT,
                       limits={"/api/assess": upload_limit + FORM_SLACK,
                               "/api/report": upload_limit + ASSESSMENT_LIMIT + FORM_SLACK,
                               COMPARE_PATH: 2 * upload_limit + FORM_SLACK,
                               REMATCH_PATH: 2 * ASSESSMENT_LIMIT + FORM_SLACK})
    app.add_middleware(OriginCheck)
    if allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=set(allowed_hosts))
    app.add_middleware(SecurityHeaders)  # added last: outermost, so every response has the headers
    app.state.detector = detector
    app.state.pool = pool

    @app.exception_handler(AcneKitError)
    async def _acnekit_error(request: Request, exc: AcneKitError):
        status, code = _status_of(exc)
        return _error(status, code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return _error(422, "invalid", _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        return _error(exc.status_code, _CODES.get(exc.status_code, "error"), str(exc.detail), exc.headers)

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError):  # e.g. an overflow in a client's numbers
        log.warning("refused %s %s: %s", request.method, request.url.path, exc)
        return _error(422, "invalid", f"invalid input ({type(exc).__name__}: {str(exc)[:200]})")

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, "internal", f"internal error ({type(exc).__name__}); see the server log")

    # ------------------------------------------------------------------ page
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # ------------------------------------------------------------------ API
    @app.get("/api/health", summary="Server status, model and limits")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__,
                "model": {"name": detector.name, "score_threshold": detector.score_threshold,
                          "working_scale": dict(detector.working_scale)},
                "max_upload_mb": max_upload_mb, "max_pixels": max_pixels, "workers": workers,
                "queue": queue, "running": pool.running, "admitted": gate.in_use,
                "bands": list(bands), "graded_threshold": getattr(detector, "graded_threshold", None)}

    @app.post("/api/assess", summary="Assess a photo",
              responses={413: {"description": "upload or image over the limit"},
                         422: {"description": "not an image, corrupt, or a bad scale"},
                         503: {"description": "all worker slots taken; retry later"}})
    async def assess(file: UploadFile = File(..., description="the photo (JPEG, PNG, TIFF, BMP, WebP)"),
                     px_per_mm: float | None = Form(None, description="physical scale, pixels per millimetre"),
                     ruler: str | None = Form(None, description="X1,Y1,X2,Y2,MM: two ruler points MM mm apart")):
        data = await _read_limited(file, upload_limit, "upload")
        result = await pool.run(service.assess_upload, data, file.filename, detector, max_pixels=max_pixels,
                                px_per_mm=px_per_mm, ruler=ruler or None, bands=bands)
        return JSONResponse(result)

    @app.post("/api/summary", summary="Recompute the summary of an edited assessment")
    async def summary(assessment: dict[str, Any] = Body(..., description="assessment JSON (images, annotations, "
                                                                         "summary.scale)")):
        result = await pool.run(service.resummarise, assessment, max_pixels=max_pixels, bands=bands)
        return JSONResponse(result)

    @app.post("/api/report", summary="HTML report of an (edited) assessment", response_class=HTMLResponse,
              responses={413: {"description": "upload or image over the limit"},
                         422: {"description": "bad photo or assessment, or they do not match (SHA-256 or size)"}})
    async def report(file: UploadFile = File(..., description="the photo that was assessed"),
                     assessment: UploadFile = File(..., description="the assessment JSON (as edited)")):
        raw = await _read_limited(assessment, ASSESSMENT_LIMIT, "assessment JSON")
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"not valid JSON ({exc})", path="assessment") from None
        data = await _read_limited(file, upload_limit, "upload")
        html, name = await pool.run(service.report_html, obj, data, file.filename, max_pixels=max_pixels, bands=bands)
        return HTMLResponse(html, headers={"Content-Disposition":
                                           f'attachment; filename="{_download_name(name, "-report.html")}"'})

    add_compare_routes(app, detector=detector, pool=pool, read_limited=_read_limited, upload_limit=upload_limit,
                       max_pixels=max_pixels)
    return app

