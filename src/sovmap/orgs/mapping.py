"""Organisations -> registrable domains, with manual overrides and the reasons for every gap.

:func:`map_organisations` is pure. Overrides come from a YAML file::

    overrides:
      - org: nl-oo:27520
        add:
          - domain: uwv.nl
            reason: mail domain confirmed by the UWV service desk
        remove:
          - domain: werk.nl
            reason: job portal run for UWV, not UWV's own mail

Every entry must carry a ``reason``; :func:`load_overrides` names file, line and field of any
mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from sovmap.i18n.said import SaidError
from sovmap.orgs.domains import DomainError, PublicSuffixList, load_psl, registrable
from sovmap.orgs.model import Derivation, Mapping, Organisation, OrgDomain, Unmapped
from sovmap.readers import InputError, compose_yaml, localise

NO_CONTACT = "NO_CONTACT"  # the source gives no website, e-mail address or domain
NO_DOMAIN = "NO_DOMAIN"  # it gives some, but none yields a registrable domain
DISSOLVED = "DISSOLVED"  # the body no longer exists
REMOVED_BY_OVERRIDE = "REMOVED_BY_OVERRIDE"
OVERRIDE_UNKNOWN_ORG = "OVERRIDE_UNKNOWN_ORG"


class OverrideError(SaidError, ValueError):
    """The overrides file is invalid; the message names file, line and field (said from the
    catalogue, ``ORGSRC_OVERRIDE_*``)."""


@dataclass(frozen=True, slots=True)
class OverrideEntry:
    domain: str
    reason: str
    line: int


@dataclass(frozen=True, slots=True)
class Override:
    org: str
    add: tuple[OverrideEntry, ...] = ()
    remove: tuple[OverrideEntry, ...] = ()
    line: int = 0


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _mapping(node: yaml.Node, where: str, path: Path) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise OverrideError.of("ORGSRC_OVERRIDE_NOT_MAPPING", f"{path}:{_line(node)}", what=where)
    out: dict[str, yaml.Node] = {}
    for key, value in node.value:
        out[str(key.value)] = value
    return out


def _scalar(node: yaml.Node | None, field: str, path: Path, line: int) -> str:
    if node is None:
        raise OverrideError.of("ORGSRC_OVERRIDE_MISSING", f"{path}:{line}", field=field)
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise OverrideError.of("ORGSRC_OVERRIDE_EMPTY", f"{path}:{_line(node)}", field=field)
    return str(node.value).strip()


def load_overrides(path: Path, psl: PublicSuffixList | None = None) -> list[Override]:
    """Parse and validate an overrides file."""
    psl = psl or load_psl()
    try:  # aliases, depth, size and duplicate keys checked while parsing
        root, _ = compose_yaml(Path(path))
    except InputError as exc:
        raise OverrideError.wrap(exc) from exc
    if root is None:
        return []
    top = _mapping(root, "top level", path)
    unknown = set(top) - {"overrides"}
    if unknown:
        names = str(sorted(unknown))
        raise OverrideError.of("ORGSRC_OVERRIDE_UNKNOWN", f"{path}:{_line(root)}", fields=names)
    items = top.get("overrides")
    if items is None:
        return []
    if not isinstance(items, yaml.SequenceNode):
        where = f"{path}:{_line(items)}"
        raise OverrideError.of("ORGSRC_OVERRIDE_NOT_LIST", where, field="overrides")
    out: list[Override] = []
    for item in items.value:
        fields = _mapping(item, "override", path)
        bad = set(fields) - {"org", "add", "remove"}
        if bad:
            names = str(sorted(bad))
            raise OverrideError.of("ORGSRC_OVERRIDE_UNKNOWN", f"{path}:{_line(item)}", fields=names)
        org = _scalar(fields.get("org"), "org", path, _line(item))
        lists: dict[str, tuple[OverrideEntry, ...]] = {}
        for verb in ("add", "remove"):
            node = fields.get(verb)
            entries: list[OverrideEntry] = []
            if node is not None:
                if not isinstance(node, yaml.SequenceNode):
                    where = f"{path}:{_line(node)}"
                    raise OverrideError.of("ORGSRC_OVERRIDE_NOT_LIST", where, field=verb)
                for entry in node.value:
                    ef = _mapping(entry, verb, path)
                    extra = set(ef) - {"domain", "reason"}
                    if extra:
                        raise OverrideError.of(
                            "ORGSRC_OVERRIDE_UNKNOWN_IN",
                            f"{path}:{_line(entry)}",
                            fields=str(sorted(extra)),
                            verb=verb,
                        )
                    raw = _scalar(ef.get("domain"), "domain", path, _line(entry))
                    reason = _scalar(ef.get("reason"), "reason", path, _line(entry))
                    try:
                        domain = registrable(raw, "domain", psl)
                    except DomainError as exc:
                        raise OverrideError.of(
                            "ORGSRC_OVERRIDE_DOMAIN",
                            f"{path}:{_line(ef['domain'])}",
                            detail=lambda lang, text=exc.text: localise(
                                lang, text.key, text.params
                            ),
                            problem=exc.code,
                            value=repr(raw),
                        ) from exc
                    entries.append(OverrideEntry(domain, reason, _line(entry)))
            lists[verb] = tuple(entries)
        if not lists["add"] and not lists["remove"]:
            where = f"{path}:{_line(item)}"
            raise OverrideError.of("ORGSRC_OVERRIDE_NO_CHANGE", where, org=org)
        out.append(Override(org, lists["add"], lists["remove"], _line(item)))
    return out


def map_organisation(
    org: Organisation, psl: PublicSuffixList
) -> tuple[list[OrgDomain], list[Unmapped]]:
    """The registrable domains one organisation's own data yields, and what yielded none."""
    found: list[OrgDomain] = []
    failed: list[Unmapped] = []
    seen: set[str] = set()
    values: list[tuple[Derivation, str]] = [(Derivation.DOMAIN, v) for v in org.domains]
    values += [(Derivation.EMAIL, v) for v in org.emails]
    values += [(Derivation.WEBSITE, v) for v in org.websites]
    for how, value in values:
        try:
            domain = registrable(value, how.value, psl)
        except DomainError as exc:
            failed.append(Unmapped(org.id, value, how.value, exc.code, exc.detail))
            continue
        if domain not in seen:
            seen.add(domain)
            found.append(OrgDomain(org.id, domain, how, value))
    return found, failed


def map_organisations(
    orgs: Sequence[Organisation],
    overrides: Iterable[Override] = (),
    psl: PublicSuffixList | None = None,
) -> Mapping:
    """Map every organisation; each one ends up with domains or with the reasons it has none."""
    psl = psl or load_psl()
    by_id = {o.id: o for o in orgs}
    domains: dict[str, list[OrgDomain]] = {}
    unmapped: list[Unmapped] = []
    for org in orgs:
        if org.ended:
            unmapped.append(Unmapped(org.id, org.ended, "", DISSOLVED, f"ended on {org.ended}"))
            continue
        found, failed = map_organisation(org, psl)
        domains[org.id] = found
        unmapped.extend(failed)
    for ov in overrides:
        if ov.org not in by_id:
            unmapped.append(
                Unmapped(ov.org, "", "override", OVERRIDE_UNKNOWN_ORG, f"line {ov.line}")
            )
            continue
        current = domains.setdefault(ov.org, [])
        for rm in ov.remove:
            current[:] = [d for d in current if d.domain != rm.domain]
            unmapped.append(Unmapped(ov.org, rm.domain, "override", REMOVED_BY_OVERRIDE, rm.reason))
        for add in ov.add:
            current[:] = [d for d in current if d.domain != add.domain]
            current.append(
                OrgDomain(ov.org, add.domain, Derivation.OVERRIDE, add.domain, add.reason)
            )
    for org in orgs:
        if org.ended or domains.get(org.id):
            continue
        if not (org.domains or org.emails or org.websites):
            unmapped.append(Unmapped(org.id, "", "", NO_CONTACT, "no website, e-mail or domain"))
        else:
            unmapped.append(Unmapped(org.id, "", "", NO_DOMAIN, "no value gave a usable domain"))
    flat = tuple(d for org in orgs for d in domains.get(org.id, ()))
    return Mapping(domains=flat, unmapped=tuple(unmapped))


def unmapped_orgs(orgs: Sequence[Organisation], mapping: Mapping) -> dict[str, list[Unmapped]]:
    """Organisations with no domain at all, each with every reason recorded for it."""
    mapped = {d.org_id for d in mapping.domains}
    out: dict[str, list[Unmapped]] = {}
    for org in orgs:
        if org.id not in mapped:
            out[org.id] = [u for u in mapping.unmapped if u.org_id == org.id]
    return out


def shared_domains(mapping: Mapping) -> dict[str, tuple[str, ...]]:
    """Domains that serve several organisations (shared service centres, portals)."""
    return {d: ids for d, ids in mapping.orgs_by_domain().items() if len(ids) > 1}


def duplicate_organisations(orgs: Sequence[Organisation]) -> list[tuple[str, ...]]:
    """Groups of ids that name the same body twice (same id, or same name and type)."""
    by_key: dict[tuple[str, str], list[str]] = {}
    for o in orgs:
        by_key.setdefault((" ".join(o.name.lower().split()), o.type), []).append(o.id)
    ids: dict[str, int] = {}
    for o in orgs:
        ids[o.id] = ids.get(o.id, 0) + 1
    groups = [tuple(v) for v in by_key.values() if len(v) > 1]
    groups += [(k,) * n for k, n in ids.items() if n > 1 and (k,) * n not in groups]
    return sorted(set(groups))
