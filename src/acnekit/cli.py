"""The `acnekit` command. A thin layer: each subcommand lives in `acnekit.commands.<name>`
as a module with ``register(subparsers)``; its handler returns an exit code.

Exit codes: 0 success, 1 the checked thing has problems (`audit` found some),
2 user error (one clear line on stderr; traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from acnekit.errors import AcneKitError
from acnekit.heap import keep_freed_memory


def build_parser() -> argparse.ArgumentParser:
    import acnekit.commands as commands

    parser = argparse.ArgumentParser(
        prog="acnekit",
        description="Find, count, size and grade acne lesions; handle Acne04-v2-style datasets.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"acnekit {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"acnekit.commands.{info.name}")
        module.register(sub)
    return parser


def _version() -> str:
    from acnekit import __version__

    return __version__




def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    keep_freed_memory()  # detector passes reuse their feature-map memory (see acnekit.heap)
    from acnekit.engines.staging import Terminated, signals_as_exceptions

    try:
        with signals_as_exceptions():  # SIGTERM / SIGHUP unwind like Ctrl-C: temporary outputs are removed
            return int(args.func(args) or 0)
    except AcneKitError as exc:
        if args.debug:
            raise
        print(f"acnekit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"terminated ({exc})", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
