"""``sovmap locations``: which hosts of a scan sit in which country's data centres, and under
whose control (the data-location findings of :mod:`sovmap.classify.location`).

It lives beside the classifier, not in ``sovmap.knowledge``, because the knowledge package is
below the classifier: the classifier reads the catalogue, never the other way round."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sovmap.cli import CommandError
from sovmap.knowledge.catalogue import load_catalogue


def register(sub: Any) -> None:
    lp: argparse.ArgumentParser = sub.add_parser(
        "locations",
        help="which hosts sit in which country's data centres, under whose control",
        description="Data location: the addresses behind a scan's findings that lie in a "
        "provider's published cloud region (AWS, Azure, Google Cloud, Oracle; see "
        "'sovmap knowledge refresh-prefixes'), with the region's country and city and who "
        "controls the provider. Reads the latest finished scan unless --scan is given. "
        "Example: sovmap locations --db scans.sqlite --lang nl",
    )
    lp.add_argument("--db", required=True, help="the store (SQLite path or database URL)")
    lp.add_argument("--scan", type=int, default=None, help="scan id (default: latest finished)")
    lp.add_argument("--format", choices=("text", "json"), default="text")
    lp.add_argument("--lang", choices=("en", "nl"), default="en", help="language of the text")
    lp.set_defaults(func=_locations)


def _locations(args: argparse.Namespace) -> int:
    from sovmap.classify.location import by_country, located_hosts
    from sovmap.i18n import format_number, has, t, value
    from sovmap.readers import printable
    from sovmap.store import Store

    if "://" not in args.db and not Path(args.db).is_file():
        raise CommandError(f"no store at {args.db}")
    store = Store.for_reading(args.db)  # a StoreError names the problem (exit 2)
    choice = store.choose_scan(args.scan)
    if choice.scan is None:
        raise CommandError(
            f"the store holds no scan {args.scan}" if args.scan else "the store holds no scan yet"
        )
    sid = choice.scan.id
    rows = located_hosts(store.iter_findings(sid))
    countries = by_country(rows)
    if args.format == "json":
        import json

        doc = {
            "scan": sid,
            "hosts": len({r.address for r in rows}),
            "domains": len({r.domain for r in rows}),
            "by_country": [c.to_json() for c in countries],
            "locations": [r.to_json() for r in rows],
        }
        print(json.dumps(doc, ensure_ascii=True, indent=1))
        return 0
    lang = args.lang

    def country(code: str) -> str:
        key = f"LOC_COUNTRY_{code}"
        return t(lang, key) if code and has(lang, key) else (code or t(lang, "LOC_COUNTRY_UNKNOWN"))

    def control(jurisdiction: str, us: bool) -> str:
        if us:
            return t(lang, "LOC_CONTROL_US")
        if not jurisdiction:
            return t(lang, "LOC_CONTROL_UNKNOWN")
        return t(lang, "LOC_CONTROL_OTHER", country=country(jurisdiction))

    print(
        t(
            lang,
            "LOC_TITLE",
            scan=sid,
            hosts=format_number(len({r.address for r in rows}), lang),
            domains=format_number(len({r.domain for r in rows}), lang),
        )
    )
    if not rows:
        cat = load_catalogue()
        print(t(lang, "LOC_NONE" if cat.locations else "LOC_NO_RANGES"))
        return 0
    print(t(lang, "LOC_BY_COUNTRY"))
    for c in countries:
        line = t(
            lang,
            "LOC_COUNTRY_LINE",
            country=country(c.country),
            hosts=format_number(c.hosts, lang),
            domains=format_number(c.domains, lang),
            us=format_number(c.us_controlled_hosts, lang),
        )
        print(line)
    print(t(lang, "LOC_DETAIL"))
    for r in rows:
        sentence = t(
            lang,
            "LOC_SENTENCE_CITY" if r.city else "LOC_SENTENCE",
            provider=r.provider_name,
            control=control(r.jurisdiction, r.us_controlled),
            cloud=r.cloud,
            region=r.region_name,
            country=country(r.country),
            city=r.city,
        )
        line = t(
            lang,
            "LOC_ROW",
            domain=r.domain,
            capability=value(lang, "capability", r.capability),
            sentence=sentence,
            host=r.host,
            address=r.address,
        )
        print(printable(line))  # names from DNS: control characters escaped
    return 0
