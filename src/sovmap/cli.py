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
from sovmap.errors import SovmapError


class CommandError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def _wanted(argv: Sequence[str] | None) -> str | None:
    """The command named on the command line, if any (the first non-option word)."""
    for word in argv if argv is not None else sys.argv[1:]:
        if not word.startswith("-"):
            return word
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command group, or only the group registered under ``only``
    (start-up then loads one group's modules instead of all of them)."""
    parser = argparse.ArgumentParser(
        prog="sovmap",
        description="Map, measure and reduce dependence on foreign technology providers.",
    )
    parser.add_argument("--version", action="version", version=f"sovmap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    eps = sorted(entry_points(group="sovmap.commands"), key=lambda e: e.name)
    if only is not None and any(ep.name == only for ep in eps):
        eps = [ep for ep in eps if ep.name == only]
    for ep in eps:
        try:
            register = ep.load()
        except Exception as exc:
            print(f"sovmap: warning: command group {ep.name!r} not loaded: {exc}", file=sys.stderr)
            continue
        register(sub)
    return parser


def _language(args: argparse.Namespace) -> str:
    """The language of the messages: the command's ``--lang`` where it has one, else
    ``SOVMAP_LANG`` (see :func:`sovmap.i18n.cli_language`)."""
    from sovmap.i18n import LANGUAGES, cli_language

    chosen = getattr(args, "lang", None)
    return cli_language(chosen if chosen in LANGUAGES else None)


def _localised(exc: SovmapError, lang: str) -> str:
    """An error's message in ``lang`` where it carries a catalogue message (the input
    layer's errors do: ``localised(lang)``), else as ``str()`` gives it."""
    localised = getattr(exc, "localised", None)
    return str(localised(lang)) if callable(localised) else str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_wanted(argv))
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    lang = "en"
    try:
        lang = _language(args)
        code: int = func(args)
    except CommandError as exc:
        cause = exc.__cause__
        text = str(exc)
        if isinstance(cause, SovmapError) and text == str(cause):
            text = _localised(cause, lang)  # an input error passed on as it was
        print(f"sovmap: error: {text}", file=sys.stderr)
        return 2
    except SovmapError as exc:  # the library's domain errors: unusable input
        print(f"sovmap: error: {_localised(exc, lang)}", file=sys.stderr)
        return exc.exit_code
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
