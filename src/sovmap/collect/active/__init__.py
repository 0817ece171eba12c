"""Opt-in probes beyond the default DNS plan (``sovmap scan --probe posture,http,smtp``).

- ``posture``: more DNS questions per domain (MTA-STS and TLS-RPT records, DNSKEY at the apex,
  DANE TLSA at every MX host), added to the probe plan by :func:`plan_for`;
- ``http``: Microsoft tenant discovery, Google's domain sign-in page, and (with ``posture``)
  the MTA-STS policy file (:mod:`.http`);
- ``smtp``: banner, EHLO, STARTTLS and certificate of a domain's MX hosts (:mod:`.smtp`).

HTTP and SMTP run after a domain's DNS answers are in (:class:`ActiveProber`), politely
(:mod:`.budget`); their answers are stored as observations of their own kinds and read by
the classifier like DNS answers (:mod:`sovmap.classify.active`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from functools import cache

from sovmap.collect.active import http, smtp
from sovmap.collect.active.budget import Politeness
from sovmap.collect.active.settings import (
    GROUPS,
    ActiveSettings,
    ProbeSettingsError,
    default_settings,
    parse_groups,
    with_overrides,
)
from sovmap.collect.probes import ProbePlan, Question, default_plan
from sovmap.knowledge.probes import probe_file
from sovmap.model import Observation, Status
from sovmap.records import chain_end

#: SMTP answers kept per MX host for the scan (the same host serves many domains)
HOST_CACHE = 20000


@cache
def plan_for(groups: frozenset[str], base: ProbePlan | None = None) -> ProbePlan:
    """The probe plan with the DNS questions of ``groups`` (only ``posture`` adds any)."""
    plan = base or default_plan()
    if "posture" not in groups:
        return plan
    extra = tuple(
        Question(str(q["probe"]), str(q["name"]), str(q["type"]))
        for q in probe_file().get("posture_questions") or ()
    )
    return replace(plan, questions=plan.questions + extra, opt_in=plan.opt_in | {"posture"})


def mx_targets(observations: tuple[Observation, ...] | list[Observation]) -> list[tuple[str, str]]:
    """(MX host, first address) of a domain's MX hosts, lowest preference first; a host
    without an address in the observations is left out (nothing to connect to)."""
    hosts: list[tuple[int, str]] = []
    for o in observations:
        if o.probe == "mx" and o.status is Status.NOERROR:
            for r in o.answers:
                pref, _, host = r.data.partition(" ")
                item = (int(pref) if pref.isdigit() else 0, host)
                if r.rtype == "MX" and host and item not in hosts:
                    hosts.append(item)
    names = {h for _, h in hosts}
    addresses: dict[str, str] = {}
    for o in observations:
        if o.probe == "mx-host" and o.status is Status.NOERROR and o.qtype in ("A", "AAAA"):
            # the host's own question, or the chased end of its CNAME chain (via = the host)
            host = o.qname if o.qname in names else o.via
            end, _ = chain_end(o.qname, o.answers)
            for r in o.answers:
                if host in names and r.name == end and r.rtype == o.qtype:
                    addresses.setdefault(host, r.data)
                    break
    out = []
    for _, host in sorted(hosts):
        addr = addresses.get(host)
        if addr:
            out.append((host, addr))
    return out


def _mta_sts_published(observations: tuple[Observation, ...] | list[Observation]) -> bool:
    return any(
        o.probe == "mta-sts"
        and o.status is Status.NOERROR
        and any(r.rtype == "TXT" and r.data.lower().startswith("v=stsv1") for r in o.answers)
        for o in observations
    )


class ActiveProber:
    """The HTTP and SMTP probes of a scan: :meth:`observe` a domain once its DNS answers are
    in. One request at a time per host, ``min_interval`` apart, within ``budget``."""

    def __init__(self, settings: ActiveSettings, gate: Politeness | None = None) -> None:
        self.s = settings
        self.gate = gate or Politeness(settings.min_interval, settings.budget)
        self.hosts: OrderedDict[tuple[str, str], Observation] = OrderedDict()
        self.failed = 0

    def observe(self, domain: str, observations: tuple[Observation, ...]) -> list[Observation]:
        out: list[Observation] = []
        s = self.s
        if "http" in s.groups:
            out += [
                http.realm(domain, s, self.gate),
                http.openid(domain, s, self.gate),
                http.google(domain, s, self.gate),
            ]
            if _mta_sts_published(observations):
                out.append(http.mta_sts_policy(domain, s, self.gate))
        if "smtp" in s.groups:
            for host, address in mx_targets(observations)[: s.smtp_max_hosts]:
                out.append(self._host(host, address, domain))
        self.failed += sum(1 for o in out if o.status is not Status.NOERROR)
        return out

    def _host(self, host: str, address: str, domain: str) -> Observation:
        key = (host, address)
        got = self.hosts.get(key)
        if got is None:
            got = smtp.probe_host(host, address, domain, self.s, self.gate)
            self.hosts[key] = got
            if len(self.hosts) > HOST_CACHE:
                self.hosts.popitem(last=False)
        else:
            self.hosts.move_to_end(key)
        return replace(got, via=domain)

    def stats(self) -> dict[str, int]:
        return {"requests": self.gate.used, "failed": self.failed, "skipped": self.gate.refused}


__all__ = [
    "GROUPS",
    "ActiveProber",
    "ActiveSettings",
    "ProbeSettingsError",
    "default_settings",
    "mx_targets",
    "parse_groups",
    "plan_for",
    "with_overrides",
]
