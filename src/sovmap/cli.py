"""Command-line entry point: argument parsing and printing only.

Every command group, the built-in ones included, registers itself through the
``sovmap.commands`` entry-point group: an entry point names a callable
``register(subparsers)`` that adds its sub-commands, each with ``func`` set to a handler
``handler(args) -> int``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from sovmap import __version__


class CommandError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sovmap",
        description="Map, measure and reduce dependence on foreign technology providers.",
    )
    parser.add_argument("--version", action="version", version=f"sovmap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="sovmap.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except Exception as exc:
            print(f"sovmap: warning: command group {ep.name!r} not loaded: {exc}", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        code: int = func(args)
    except CommandError as exc:
        print(f"sovmap: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # output piped into a program that stopped reading (e.g. head): not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("sovmap: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
