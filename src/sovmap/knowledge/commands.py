"""``sovmap knowledge``: inspect and validate the provider catalogue."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sovmap.knowledge.catalogue import KnowledgeError, load_catalogue


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "knowledge",
        help="inspect and validate the provider catalogue",
        description="Inspect and validate the provider catalogue (bundled data files plus "
        "optional directories of your own YAML files, which override by id).",
    )
    ks = p.add_subparsers(dest="knowledge_command", metavar="ACTION", required=True)
    check = ks.add_parser(
        "check",
        help="validate every provider file",
        description="Validate every provider file against the schema. Example: "
        "sovmap knowledge check --dir my-providers/",
    )
    check.add_argument("--dir", action="append", default=[], type=Path, help="extra directory")
    check.set_defaults(func=_check)
    ls = ks.add_parser(
        "list",
        help="list providers with parent and jurisdiction",
        description="List providers. Example: sovmap knowledge list",
    )
    ls.add_argument("--dir", action="append", default=[], type=Path, help="extra directory")
    ls.set_defaults(func=_list)


def _check(args: argparse.Namespace) -> int:
    try:
        cat = load_catalogue(args.dir)
    except KnowledgeError as exc:
        print(f"invalid: {exc}")
        return 1
    print(
        f"ok: {len(cat.providers)} providers, {len(cat.fingerprints)} fingerprints "
        f"(knowledge version {cat.version})"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    cat = load_catalogue(args.dir)
    print(f"{'id':<22} {'name':<28} {'parent':<34} {'jur':<4} capabilities")
    for p in sorted(cat.providers.values(), key=lambda p: p.id):
        caps = ",".join(sorted(c.value for c in p.capabilities))
        print(f"{p.id:<22} {p.name[:28]:<28} {p.parent_name[:34]:<34} {p.jurisdiction:<4} {caps}")
    return 0
