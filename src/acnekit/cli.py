"""The `acnekit` command. A thin layer: each subcommand lives in `acnekit.commands.<name>`
as a module with ``register(subparsers)``; its handler returns an exit code.

Exit codes: 0 success, 1 the checked thing has problems (`audit` found some),
2 user error (one clear line on stderr; traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import sys
import warnings

from acnekit.errors import AcneKitError, AcneKitWarning
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
    for name, p in sub.choices.items():  # --debug after the subcommand too (SUPPRESS: absent keeps the top one)
        if "--debug" not in p._option_string_actions:
            p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors")
    return parser


def _version() -> str:
    from acnekit import __version__

    return __version__


# errors of the machine rather than of acnekit: one line, exit 2, like a user error
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _show_warnings(command: str):
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, AcneKitWarning):
            print(f"acnekit {command}: warning: {message}", file=sys.stderr)
        else:
            _default(message, category, filename, lineno, file, line)
    _default = warnings.showwarning
    return show


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
        # SIGTERM / SIGHUP unwind like Ctrl-C: temporary outputs are removed
        with signals_as_exceptions(), warnings.catch_warnings():
            warnings.simplefilter("always", AcneKitWarning)
            warnings.showwarning = _show_warnings(args.command)
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
    except OSError as exc:  # a write or read the machine refused (full disk, read-only folder)
        if args.debug or exc.errno not in _ENVIRONMENT_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"acnekit {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
