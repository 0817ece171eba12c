"""``nl-central``: the bundled list of Dutch ministries, ZBOs and agencies (no download).

The facts live in ``data/nl_central.yaml``, each with the public page it comes from; this
module validates and loads them. Every body carries the list's group name, so reports can be
cut to exactly the bodies named in the parliamentary debate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Any

import yaml

from sovmap.orgs.model import Organisation, OrgType
from sovmap.orgs.sources import Download, Option, SourceError

RESOURCE = "nl_central.yaml"


def _need(entry: dict[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise SourceError(f"{where}: field {field!r} is missing or empty")
    return value.strip()


def load_bundled(text: str | None = None, origin: str = RESOURCE) -> list[Organisation]:
    """Validate and load the list (``text`` defaults to the bundled file)."""
    if text is None:
        text = files("sovmap.orgs.data").joinpath(RESOURCE).read_text(encoding="utf-8")
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourceError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise SourceError(f"{origin}: expected a mapping at the top level")
    group = _need(doc, "group", origin)
    out: list[Organisation] = []
    ids: set[str] = set()
    for section, default_type in (("ministries", OrgType.MINISTRY.value), ("bodies", "")):
        for i, entry in enumerate(doc.get(section) or []):
            where = f"{origin}: {section}[{i}]"
            if not isinstance(entry, dict):
                raise SourceError(f"{where}: expected a mapping")
            org_id = _need(entry, "id", where)
            if org_id in ids:
                raise SourceError(f"{where}: duplicate id {org_id!r}")
            ids.add(org_id)
            kind = default_type or _need(entry, "type", where)
            if kind not in {t.value for t in OrgType}:
                raise SourceError(f"{where}: field 'type': unknown type {kind!r}")
            parent = "" if default_type else _need(entry, "parent", where)
            if not default_type:
                _need(entry, "type_source", where)
            website = _need(entry, "website", where)
            source = _need(entry, "website_source", where)
            out.append(
                Organisation(
                    id=org_id,
                    name=_need(entry, "name", where),
                    type=kind,
                    parent_id=parent,
                    country="NL",
                    websites=(website,),
                    source="nl-central",
                    source_id=org_id,
                    source_url=str(entry.get("type_source") or source),
                    abbreviation=str(entry.get("abbreviation", "")),
                    groups=(group,),
                )
            )
    known = {o.id for o in out}
    for o in out:
        if o.parent_id and o.parent_id not in known:
            raise SourceError(f"{origin}: {o.id}: parent {o.parent_id!r} is not in the list")
    return out


class CentralSource:
    """Bundled data: no download, always available offline."""

    name = "nl-central"
    help = "bundled list of Dutch ministries, ZBOs and agencies named in the debate"
    default_base_url = ""
    options: Sequence[Option] = ()

    def downloads(self, base_url: str, options: Mapping[str, str]) -> list[Download]:
        return []

    def parse(self, data: bytes, origin: str, options: Mapping[str, str]) -> list[Organisation]:
        if data:
            return load_bundled(data.decode("utf-8"), origin)
        return load_bundled()


SOURCE = CentralSource()
