"""``nl-central``: the bundled list of Dutch ministries, ZBOs and agencies (no download).

The facts live in ``data/nl_central.yaml`` (ministries, agencies, ZBOs) and
``data/nl_regional.yaml`` (provinces, water boards, municipalities with their CBS codes), each
with the public page it comes from; this module validates and loads them. A body carries the
list's group name unless its entry names its own, so reports can be cut to exactly the bodies
named in the parliamentary debate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Any

import yaml

from sovmap.orgs.model import Location, Organisation, OrgType
from sovmap.orgs.sources import Download, Option, SourceError

RESOURCE = "nl_central.yaml"
REGIONAL = "nl_regional.yaml"
_GM = re.compile(r"GM\d{4}")
_PV = re.compile(r"PV\d{2}")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _need(entry: dict[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise SourceError.of("ORGSRC_FIELD_MISSING", where, field=field)
    return value.strip()


def load_bundled(text: str | None = None, origin: str = RESOURCE) -> list[Organisation]:
    """Validate and load the list (``text`` defaults to the bundled file)."""
    if text is None:
        text = files("sovmap.orgs.data").joinpath(RESOURCE).read_text(encoding="utf-8")
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourceError.of("ORGSRC_NOT_YAML", origin, detail=exc) from exc
    if not isinstance(doc, dict):
        raise SourceError.of("ORGSRC_TOP_NOT_MAPPING", origin)
    group = _need(doc, "group", origin)
    out: list[Organisation] = []
    ids: set[str] = set()
    for section, default_type in (("ministries", OrgType.MINISTRY.value), ("bodies", "")):
        for i, entry in enumerate(doc.get(section) or []):
            where = f"{origin}: {section}[{i}]"
            if not isinstance(entry, dict):
                raise SourceError.of("ORGSRC_NOT_MAPPING", where)
            org_id = _need(entry, "id", where)
            if org_id in ids:
                raise SourceError.of("ORGSRC_DUPLICATE_ID", where, id=org_id)
            ids.add(org_id)
            kind = default_type or _need(entry, "type", where)
            if kind not in {t.value for t in OrgType}:
                raise SourceError.of("ORGSRC_UNKNOWN_TYPE", where, kind=kind)
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
                    groups=(str(entry.get("group") or group),),
                )
            )
    known = {o.id for o in out}
    for o in out:
        if o.parent_id and o.parent_id not in known:
            raise SourceError.of("ORGSRC_PARENT_MISSING", origin, id=o.id, parent=o.parent_id)
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
        return load_bundled() + load_regional()


SOURCE = CentralSource()


def _doc(text: str, origin: str) -> dict[str, Any]:
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourceError.of("ORGSRC_NOT_YAML", origin, detail=exc) from exc
    if not isinstance(doc, dict):
        raise SourceError.of("ORGSRC_TOP_NOT_MAPPING", origin)
    return doc


def load_regional(text: str | None = None, origin: str = REGIONAL) -> list[Organisation]:
    """Validate and load the provinces, water boards and municipalities (``text`` defaults to
    the bundled ``nl_regional.yaml``). Municipalities keep their CBS code (``GM0363``) as
    ``location.municipality_code``; one without a sourced domain is kept without one."""
    if text is None:
        text = files("sovmap.orgs.data").joinpath(REGIONAL).read_text(encoding="utf-8")
    doc = _doc(text, origin)
    group = _need(doc, "group", origin)
    sources = doc.get("sources")
    if not isinstance(sources, dict) or not all(
        isinstance(v, str) and v.startswith("https://") for v in sources.values()
    ):
        raise SourceError.of("ORGSRC_SOURCES_NOT_URLS", origin)

    def source(entry: dict[str, Any], field: str, where: str) -> str:
        key = _need(entry, field, where)
        if key.startswith("https://"):
            return key
        if key not in sources:
            raise SourceError.of("ORGSRC_UNKNOWN_SOURCE_KEY", where, field=field, key=key)
        return str(sources[key])

    out: list[Organisation] = []
    ids: set[str] = set()

    def add(org: Organisation, where: str) -> None:
        if org.id in ids:
            raise SourceError.of("ORGSRC_DUPLICATE_ID", where, id=org.id)
        ids.add(org.id)
        out.append(org)

    provinces: set[str] = set()
    for i, e in enumerate(_section(doc, "provinces", origin)):
        where = f"{origin}: provinces[{i}]"
        code = _need(e, "code", where)
        if not _PV.fullmatch(code):
            raise SourceError.of("ORGSRC_NOT_PROVINCE_CODE", where, value=code[:80])
        source(e, "code_source", where)
        provinces.add(code)
        add(
            Organisation(
                id=f"nl-pv:{code}",
                name=f"Provincie {_need(e, 'name', where)}",
                type=OrgType.PROVINCE.value,
                country="NL",
                websites=(_need(e, "website", where),),
                source="nl-central",
                source_id=code,
                source_url=source(e, "website_source", where),
                groups=(group,),
            ),
            where,
        )
    for i, e in enumerate(_section(doc, "water_boards", origin)):
        where = f"{origin}: water_boards[{i}]"
        source(e, "type_source", where)
        add(
            Organisation(
                id=f"nl-ws:{_need(e, 'id', where)}",
                name=_need(e, "name", where),
                type=OrgType.WATER_BOARD.value,
                country="NL",
                websites=(_need(e, "website", where),),
                source="nl-central",
                source_id=_need(e, "id", where),
                source_url=source(e, "website_source", where),
                groups=(group,),
            ),
            where,
        )
    for i, e in enumerate(_section(doc, "municipalities", origin)):
        where = f"{origin}: municipalities[{i}]"
        code = _need(e, "code", where)
        if not _GM.fullmatch(code):
            raise SourceError.of("ORGSRC_NOT_MUNICIPALITY_CODE", where, value=code[:80])
        province = _need(e, "province", where)
        if province not in provinces:
            raise SourceError.of("ORGSRC_UNKNOWN_PROVINCE", where, province=province)
        domain = str(e.get("domain") or "").strip()
        if domain and not _DOMAIN.fullmatch(domain):
            raise SourceError.of("ORGSRC_NOT_A_DOMAIN", where, value=domain[:80])
        where_source = _need(e, "domain_source", where)
        url = "" if where_source == "none" and not domain else source(e, "domain_source", where)
        add(
            Organisation(
                id=f"nl-gm:{code}",
                name=f"Gemeente {_need(e, 'name', where)}",
                type=OrgType.MUNICIPALITY.value,
                parent_id="",
                country="NL",
                domains=(domain,) if domain else (),
                source="nl-central",
                source_id=code,
                source_url=url or str(sources.get("cbs-2025", "")),
                location=Location(municipality_code=code),
                groups=(group,),
            ),
            where,
        )
    return out


def _section(doc: dict[str, Any], name: str, origin: str) -> list[dict[str, Any]]:
    entries = doc.get(name) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SourceError.of("ORGSRC_NOT_LIST_OF_MAPPINGS", origin, field=name)
    return entries
