"""Wikidata: public bodies and municipalities of any country through the SPARQL endpoint.

:func:`build_query` writes the SELECT for a country (ISO 3166-1 alpha-2, matched through
P297 so no country item ids are hard-coded) and a sovmap organisation type (classes in
``data/wikidata.yaml``); :meth:`WikidataSource.parse` reads the W3C "SPARQL 1.1 Query Results
JSON Format" (``head.vars``, ``results.bindings[]`` of ``{type, value}``), one row per
combination of optional values, grouped back into one organisation per item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

import yaml

from sovmap.i18n import format_number
from sovmap.i18n.said import SaidText, localised
from sovmap.orgs.model import Location, Organisation
from sovmap.orgs.sources import Download, Option, Parsed, SourceError
from sovmap.readers import accounting

ENTITY = "http://www.wikidata.org/entity/"
_POINT = re.compile(r"^Point\(\s*(-?[0-9.]+)\s+(-?[0-9.]+)\s*\)$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANG = re.compile(r"^[a-z]{2,3}(,[a-z]{2,3})*$")


@lru_cache(maxsize=1)
def _knowledge() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(
        files("sovmap.orgs.data").joinpath("wikidata.yaml").read_text(encoding="utf-8")
    )
    return raw


def supported_types() -> list[str]:
    return sorted(_knowledge()["types"])


def build_query(country: str, org_type: str, lang: str = "en") -> str:
    """The SPARQL SELECT for organisations of ``org_type`` in ``country``."""
    country = country.upper()
    if not _COUNTRY.match(country):
        raise SourceError.of("ORGSRC_BAD_COUNTRY", value=country[:80])
    if not _LANG.match(lang):
        raise SourceError.of("ORGSRC_BAD_LANGUAGES", value=lang[:80])
    kb = _knowledge()
    spec = kb["types"].get(org_type)
    if spec is None:
        raise SourceError.of(
            "ORGSRC_WIKIDATA_TYPE", value=org_type[:80], types=", ".join(supported_types())
        )
    p = {k: v["id"] for k, v in kb["properties"].items()}
    specific = spec.get("by_country", {}).get(country)
    member = (
        f"wdt:P31 wd:{specific['id']}"
        if specific
        else f"wdt:P31/wdt:P279* wd:{spec['class']['id']}"
    )
    code = kb["municipality_code"].get(country)
    code_line = f"  OPTIONAL {{ ?org wdt:{code['id']} ?code . }}\n" if code else ""
    languages = ",".join(dict.fromkeys([*lang.split(","), "en"]))
    return (
        "SELECT ?org ?orgLabel ?website ?email ?parent ?coord ?code WHERE {\n"
        f'  ?country wdt:{p["iso_code"]} "{country}" .\n'
        f"  ?org wdt:{p['country']} ?country ;\n"
        f"       {member} .\n"
        f"  FILTER NOT EXISTS {{ ?org wdt:{p['dissolved']} ?dissolved . }}\n"
        f"  OPTIONAL {{ ?org wdt:{p['website']} ?website . }}\n"
        f"  OPTIONAL {{ ?org wdt:{p['email']} ?email . }}\n"
        f"  OPTIONAL {{ ?org wdt:{p['parent']} ?parent . }}\n"
        f"  OPTIONAL {{ ?org wdt:{p['coordinates']} ?coord . }}\n"
        f"{code_line}"
        f'  SERVICE wikibase:label {{ bd:serviceParam wikibase:language "{languages}". }}\n'
        "}\n"
    )


def _value(binding: dict[str, Any], var: str) -> str:
    cell = binding.get(var)
    if not isinstance(cell, dict):
        return ""
    return str(cell.get("value", "")).strip()


def _qid(uri: str) -> str:
    return uri[len(ENTITY) :] if uri.startswith(ENTITY) else uri


class WikidataSource:
    """``wikidata``: public bodies of any country with official website (P856) and e-mail."""

    name = "wikidata"
    help = "Wikidata SPARQL: municipalities and public bodies of any country (P856, P968)"
    default_base_url = "https://query.wikidata.org/sparql"
    options: Sequence[Option] = (
        Option("country", "ISO 3166-1 alpha-2 country code", "NL"),
        Option("type", "municipality | ministry | agency | public-body", "municipality"),
        Option("lang", "label languages, comma-separated", "en"),
    )

    def downloads(self, base_url: str, options: Mapping[str, str]) -> list[Download]:
        country = (options.get("country") or "NL").upper()
        org_type = options.get("type") or "municipality"
        query = build_query(country, org_type, options.get("lang") or "en")
        url = base_url + "?" + urlencode({"query": query, "format": "json"})
        return [
            Download(
                key=f"{country.lower()}-{org_type}.json",
                url=url,
                accept="application/sparql-results+json",
            )
        ]

    def parse(self, data: bytes, origin: str, options: Mapping[str, str]) -> list[Organisation]:
        try:
            doc = json.loads(data.decode("utf-8"))
        except RecursionError:  # the parser's own depth guard: 100,000 nested '['
            raise SourceError.of("ORGSRC_TOO_DEEP", origin) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise SourceError.of(
                    "ORGSRC_NOT_SPARQL_AT", origin, line=exc.lineno, column=exc.colno, detail=exc
                ) from exc
            raise SourceError.of("ORGSRC_NOT_SPARQL", origin, detail=exc) from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("head"), dict):
            raise SourceError.of("ORGSRC_NO_HEAD", origin)
        bindings = (
            (doc.get("results") or {}).get("bindings")
            if isinstance(doc.get("results"), dict)
            else None
        )
        if not isinstance(bindings, list):
            raise SourceError.of("ORGSRC_NO_BINDINGS", origin)
        country = (options.get("country") or "").upper()
        org_type = options.get("type") or "municipality"
        grouped: dict[str, dict[str, Any]] = {}
        problems: list[str] = []  # a broken result is reported and skipped, the rest read
        for i, row in enumerate(bindings):
            if not isinstance(row, dict):
                problems.append(SaidText.of("ORGSRC_WIKIDATA_NOT_OBJECT", origin, i=i))
                continue
            uri = _value(row, "org")
            if not uri:
                problems.append(SaidText.of("ORGSRC_WIKIDATA_NO_ORG", origin, i=i))
                continue
            g = grouped.setdefault(
                uri,
                {"label": "", "websites": [], "emails": [], "parents": [], "coord": "", "code": ""},
            )
            g["label"] = g["label"] or _value(row, "orgLabel")
            for var, key in (("website", "websites"), ("email", "emails"), ("parent", "parents")):
                v = _value(row, var)
                if v and v not in g[key]:
                    g[key].append(v)
            g["coord"] = g["coord"] or _value(row, "coord")
            g["code"] = g["code"] or _value(row, "code")
        if problems and not grouped:  # nothing usable: not a result of the query
            first = problems[0]
            raise SourceError.of("ORGSRC_NONE_USABLE", problem=lambda lang: localised(first, lang))
        out: list[Organisation] = []
        for uri, g in grouped.items():
            qid = _qid(uri)
            lat = lon = None
            m = _POINT.match(g["coord"])
            if m:
                lon, lat = float(m.group(1)), float(m.group(2))
            emails = [e[7:] if e.lower().startswith("mailto:") else e for e in g["emails"]]
            out.append(
                Organisation(
                    id=f"wd:{qid}",
                    name=g["label"] or qid,
                    type=org_type,
                    parent_id=f"wd:{_qid(g['parents'][0])}" if g["parents"] else "",
                    country=country,
                    websites=tuple(g["websites"]),
                    emails=tuple(emails),
                    source="wikidata",
                    source_id=qid,
                    source_url=f"https://www.wikidata.org/wiki/{qid}",
                    location=Location(lat=lat, lon=lon, municipality_code=g["code"]),
                )
            )
        rejected = len(problems)
        read, found = len(bindings), len(out)
        problems.append(
            SaidText.of(
                "ORGSRC_WIKIDATA_ACCOUNTING",
                origin,
                accounting=lambda lang: accounting(read, read - rejected, rejected, lang),
                n=lambda lang: format_number(found, lang),
            )
        )
        return Parsed(out, problems)


SOURCE = WikidataSource()
