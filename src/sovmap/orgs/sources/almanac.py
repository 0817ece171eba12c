"""The Dutch government almanac: the open XML export of the Register van Overheidsorganisaties.

The export (``exportOO.xml`` at https://organisaties.overheid.nl/archive/, formerly one file
per type at almanak-redactie.overheid.nl/archive/) is one ``overheidsorganisaties`` document
whose namespace ends in a schema version that changes without notice
(``https://organisaties.overheid.nl/static/schema/oo/export/2.6.9``,
``https://almanak.overheid.nl/static/schema/oo/export/2.4.3``, ...). Elements are therefore
matched by local name, whatever namespace (or none) they carry:

``organisatie`` (or ``gemeente``, ``zelfstandigBestuursorgaan``, ``gemeenschappelijkeRegeling``
in older per-type exports) with ``@systeemId`` (newer) or ``systemId/systemId`` (older),
``naam`` (``titel`` for joint arrangements), ``afkorting``, ``types/type``,
``relatieMetMinisterie`` (``@resourceIdentifierTOOI`` and the ministry's name), ``eindDatum``,
``contact`` with ``internetadressen/internetadres/url`` and ``emailadressen/emailadres/email``
(older: ``internet`` and ``emailadres`` as text) and ``bezoekAdres/adres/plaats``; nested
``organisaties/organisatie`` are parts of their parent.
"""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.resources import files
from typing import Any

import yaml

from sovmap.i18n.said import SaidText
from sovmap.orgs.model import Location, Organisation, OrgType
from sovmap.orgs.sources import Download, Option, Parsed, SourceError, slug
from sovmap.readers import accounting, quote

ROOT = "overheidsorganisaties"
ORG_ELEMENTS = (
    "organisatie",
    "gemeente",
    "zelfstandigBestuursorgaan",
    "gemeenschappelijkeRegeling",
)
NAMESPACE_HOSTS = ("organisaties.overheid.nl", "almanak.overheid.nl")
UNIT_TYPE = "Organisatieonderdeel"  # directorates etc.: parts of their parent, not bodies


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[dict[str, str], dict[str, str]]:
    raw: Any = yaml.safe_load(
        files("sovmap.orgs.data").joinpath("nl_types.yaml").read_text(encoding="utf-8")
    )
    return dict(raw["types"]), dict(raw["elements"])


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _child(el: ET.Element, *path: str) -> ET.Element | None:
    cur: ET.Element | None = el
    for name in path:
        if cur is None:
            return None
        found = _children(cur, name)
        cur = found[0] if found else None
    return cur


def _all(el: ET.Element, *path: str) -> list[ET.Element]:
    level = [el]
    for name in path:
        level = [c for e in level for c in _children(e, name)]
    return level


def _text(el: ET.Element | None) -> str:
    if el is None or el.text is None:
        return ""
    return " ".join(el.text.split())


def _attr(el: ET.Element, name: str) -> str:
    for key, value in el.attrib.items():
        if _local(key) == name:
            return value.strip()
    return ""


@dataclass(frozen=True, slots=True)
class _Raw:
    org: Organisation
    parent_tooi: str
    parent_name: str
    tooi: str


class AlmanacSource:
    """``nl-government``: every public body in the Dutch register, with websites and e-mail."""

    name = "nl-government"
    help = "Dutch government almanac (Register van Overheidsorganisaties), open XML export"
    default_base_url = "https://organisaties.overheid.nl/archive/"
    options: Sequence[Option] = (
        Option("type", "only these sovmap types, comma-separated (e.g. municipality,zbo)"),
        Option("file", "export file name under the base URL", "exportOO.xml"),
    )

    def downloads(self, base_url: str, options: Mapping[str, str]) -> list[Download]:
        name = options.get("file") or "exportOO.xml"
        return [Download(key=name, url=base_url.rstrip("/") + "/" + name, accept="application/xml")]

    def parse(self, data: bytes, origin: str, options: Mapping[str, str]) -> list[Organisation]:
        raws: list[_Raw] = []
        problems: list[str] = []
        # Streamed: each top-level organisation is read and then dropped, so the export
        # (tens of megabytes, with every office holder) never sits in memory as one tree.
        depth = 0  # elements open below the root
        root: ET.Element | None = None
        try:
            for event, el in ET.iterparse(io.BytesIO(data), events=("start", "end")):
                if root is None:
                    root = el
                    _check_root(el, origin)
                    continue
                if event == "start":
                    depth += 1
                    continue
                depth -= 1
                if depth == 1 and _local(el.tag) in ORG_ELEMENTS:
                    self._walk(el, origin, raws, problems)
                    el.clear()
                elif depth == 0:
                    el.clear()  # a finished container under the root
        except ET.ParseError as exc:
            line, col = exc.position
            raise SourceError.of(
                "ORGSRC_BROKEN_XML", origin, line=line, column=col, detail=exc
            ) from exc
        except LookupError as exc:  # <?xml encoding="..."?> names an unknown encoding
            raise SourceError.of("ORGSRC_NOT_XML", origin, detail=exc) from exc
        # every organisation element read was imported or reported (a unit is part of one)
        rejected = len(problems)
        read, accepted = len(raws) + rejected, len(raws)
        problems.append(
            SaidText.of(
                "ORGSRC_ACCOUNTING",
                origin,
                accounting=lambda lang: accounting(read, accepted, rejected, lang),
            )
        )
        orgs = _resolve_parents(raws)
        wanted = {t.strip() for t in options.get("type", "").split(",") if t.strip()}
        if wanted:
            unknown = wanted - {t.value for t in OrgType}
            if unknown:
                raise SourceError.of("ORGSRC_UNKNOWN_TYPES", types=", ".join(sorted(unknown)))
            orgs = [o for o in orgs if o.type in wanted]
        return Parsed(orgs, problems)

    def _walk(self, top: ET.Element, origin: str, out: list[_Raw], problems: list[str]) -> None:
        """Every organisation in ``top`` and the ones nested in it, depth first, with a stack
        (a file nests as deep as it likes without a RecursionError). One without a name is
        reported and skipped; its sub-organisations are read with its parent."""
        stack: list[tuple[ET.Element, str]] = [(top, "")]
        while stack:
            el, parent_id = stack.pop()
            children = self._one(el, parent_id, origin, out, problems)
            stack.extend(reversed(children))

    def _one(
        self, el: ET.Element, parent_id: str, origin: str, out: list[_Raw], problems: list[str]
    ) -> list[tuple[ET.Element, str]]:
        types, elements = _vocabulary()
        tag = _local(el.tag)
        name = _text(_child(el, "naam")) or _text(_child(el, "titel"))
        system_id = _attr(el, "systeemId") or _text(_child(el, "systemId", "systemId"))
        type_names = [_text(t) for t in _all(el, "types", "type")] or [_text(_child(el, "type"))]
        type_names = [t for t in type_names if t]
        is_unit = bool(parent_id) and (not type_names or type_names[0] == UNIT_TYPE)
        if not is_unit and not name:
            problems.append(
                SaidText.of("ORGSRC_ALMANAC_NO_NAME", origin, tag=tag, id=quote(system_id or "?"))
            )
        elif not is_unit:
            org_id = f"nl-oo:{system_id}" if system_id else f"nl-oo:name:{slug(name)}"
            kind = elements.get(tag) or next(
                (types[t] for t in type_names if t in types),
                OrgType.PUBLIC_BODY.value,
            )
            contact = _child(el, "contact")
            websites: list[str] = []
            emails: list[str] = []
            place = ""
            if contact is not None:
                websites += [
                    _text(u) for u in _all(contact, "internetadressen", "internetadres", "url")
                ]
                websites += [_text(u) for u in _children(contact, "internet")]
                emails += [_text(m) for m in _all(contact, "emailadressen", "emailadres", "email")]
                emails += [_text(m) for m in _children(contact, "emailadres") if len(m) == 0]
                place = _text(_child(contact, "bezoekAdres", "adres", "plaats"))
            relation = _child(el, "relatieMetMinisterie")
            ended = _text(_child(el, "eindDatum"))
            if ended and ended > dt.date.today().isoformat():
                ended = ""
            org = Organisation(
                id=org_id,
                name=name,
                type=kind,
                parent_id=parent_id,
                country="NL",
                websites=tuple(dict.fromkeys(w for w in websites if w)),
                emails=tuple(dict.fromkeys(m for m in emails if m)),
                source="nl-government",
                source_id=system_id,
                source_url=f"https://organisaties.overheid.nl/{system_id}/" if system_id else "",
                abbreviation=_text(_child(el, "afkorting")),
                location=Location(place=place),
                ended=ended[:10],
            )
            out.append(
                _Raw(
                    org=org,
                    parent_tooi=""
                    if relation is None
                    else _attr(relation, "resourceIdentifierTOOI"),
                    parent_name=_text(relation),
                    tooi=_attr(el, "resourceIdentifierTOOI"),
                )
            )
            parent_id = org_id
        return [
            (sub, parent_id)
            for child in _all(el, "organisaties")
            for sub in child
            if _local(sub.tag) in ORG_ELEMENTS
        ]


def _check_root(root: ET.Element, origin: str) -> None:
    if _local(root.tag) != ROOT:
        raise SourceError.of("ORGSRC_NOT_ALMANAC", origin, root=_local(root.tag), expected=ROOT)
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if ns and not any(h in ns for h in NAMESPACE_HOSTS):
        raise SourceError.of("ORGSRC_NAMESPACE", origin, namespace=ns)


def _resolve_parents(raws: list[_Raw]) -> list[Organisation]:
    """Point agencies and ZBOs at their ministry (by TOOI identifier, else by name)."""
    by_tooi = {r.tooi: r.org.id for r in raws if r.tooi}
    by_name = {r.org.name.lower(): r.org.id for r in raws if r.org.type == OrgType.MINISTRY}
    by_name.update(
        {f"ministerie van {r.org.name.lower()}": r.org.id for r in raws if r.org.type == "ministry"}
    )
    out: list[Organisation] = []
    for r in raws:
        org = r.org
        if not org.parent_id and (r.parent_tooi or r.parent_name):
            parent = by_tooi.get(r.parent_tooi) or by_name.get(r.parent_name.lower(), "")
            if not parent and r.parent_tooi:
                parent = "tooi:" + r.parent_tooi.rstrip("/").rsplit("/", 1)[-1]
            org = replace(org, parent_id=parent)
        out.append(org)
    return out


SOURCE = AlmanacSource()
