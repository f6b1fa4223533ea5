"""`acnekit serve [--host 127.0.0.1] [--port 8000] [--model PATH] [--max-upload-mb 25] [--workers N]`

Runs the web page and JSON API (`acnekit.web.app`) with uvicorn. Binds to 127.0.0.1 by
default: only this computer can reach it. The model is loaded before the server starts, so
a missing or broken model is reported at once.
"""

from __future__ import annotations

import argparse
import socket
import sys

from acnekit.commands._common import add_tta_arg, apply_tta
from acnekit.errors import AcneKitError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="web page to assess photos, correct the circles and export JSON / report",
        description="Serve the acnekit web page and JSON API (schema at /openapi.json). Photos are processed in memory "
                    "and never stored. Binds to 127.0.0.1 (this computer only) unless --host says otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--model", metavar="PATH", help="detector weights (.safetensors; default: the shipped model)")
    p.add_argument("--max-upload-mb", type=float, default=25.0, metavar="MB",
                   help="largest accepted photo upload in MB (default 25)")
    p.add_argument("--max-pixels", type=int, metavar="N", help="refuse photos with more pixels (default 64 MP)")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="photos processed at the same time (default 2); more uploads wait in a queue")
    p.add_argument("--queue", type=int, default=16, metavar="N",
                   help="uploads that may wait for a worker; beyond that the server answers 503 (default 16)")
    add_tta_arg(p)
    p.set_defaults(func=run)


def load_detector(path: str | None):
    """The detector (a module-level function so tests can substitute a fake one)."""
    from acnekit.detector.infer import Detector

    return Detector.load(path)


def check_args(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise AcneKitError(f"must be 0..65535, got {args.port}", where="--port")
    if not args.max_upload_mb > 0:
        raise AcneKitError(f"must be a positive number, got {args.max_upload_mb}", where="--max-upload-mb")
    if args.max_pixels is not None and args.max_pixels <= 0:
        raise AcneKitError(f"must be a positive integer, got {args.max_pixels}", where="--max-pixels")
    if args.workers < 1:
        raise AcneKitError(f"must be at least 1, got {args.workers}", where="--workers")
    if args.queue < 0:
        raise AcneKitError(f"must be 0 or more, got {args.queue}", where="--queue")


def check_port(host: str, port: int) -> None:
    """Fail early, in one line, when the address cannot be bound (uvicorn would log and exit)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise AcneKitError(f"unknown host ({exc.strerror})", where="--host") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            s.bind(addr)
        except OSError as exc:
            raise AcneKitError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def run(args: argparse.Namespace) -> int:
    check_args(args)
    try:
        import uvicorn

        from acnekit.web.app import create_app
    except ImportError as exc:
        raise AcneKitError(f"the web extra is not installed ({exc.name} missing): pip install 'acnekit[web]'") from None
    check_port(args.host, args.port)
    detector = load_detector(args.model)
    apply_tta(detector, args.tta)
    from acnekit.web.guard import LOOPBACK_HOSTS

    # bound to this computer only: also refuse requests for other host names (DNS rebinding)
    allowed = LOOPBACK_HOSTS if args.host in LOOPBACK else None
    app = create_app(detector, max_upload_mb=args.max_upload_mb, workers=args.workers, queue=args.queue,
                     max_pixels=args.max_pixels, allowed_hosts=allowed)
    if args.host not in LOOPBACK:
        print(f"acnekit serve: warning: listening on {args.host}: other computers on the network can reach "
              "this server; it has no login", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"acnekit serve: model {detector.name}; open http://{host}:{args.port}/ (API schema at /openapi.json); "
          "Ctrl+C to stop", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5)
    return 0
