"""Signals from the opt-in active probes (``sovmap scan --probe http,smtp``): a Microsoft
tenant or Google Workspace sign-in (kind ``http-tenant``) and an MX host's SMTP banner and
STARTTLS certificate (kind ``smtp-banner``), matched against ``knowledge/data/active.yaml``
(every pattern with its source and weight). Registered as extractors like the DNS kinds."""

from __future__ import annotations

from sovmap.classify.signals import Extraction, Signal, extractor
from sovmap.knowledge.active import Pattern, active_knowledge
from sovmap.model import Evidence, Observation


def _signals(obs: Observation, patterns: tuple[Pattern, ...], x: Extraction, full: bool) -> None:
    providers = x.cat.providers
    for r in obs.answers:
        for p in patterns:
            if p.where != r.rtype or p.provider not in providers:
                continue
            hit = p.regex.fullmatch(r.data) if full else p.regex.search(r.data)
            if hit is None:
                continue
            ev = Evidence(
                probe=obs.probe,
                qname=obs.qname,
                rtype=r.rtype,
                value=r.data,
                fingerprint=p.ref,
                source=p.source,
                weight=p.weight,
                chain=(obs.via,) if obs.via else (),
            )
            x.out.append(Signal(p.provider, p.capability, p.service, obs.probe, ev))


@extractor("http-tenant")
def _tenant(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """Realm, OpenID configuration and Google sign-in answers: a tenant names a provider."""
    _signals(obs, active_knowledge().tenant, x, full=True)


@extractor("smtp-banner")
def _smtp(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """Banner, EHLO and certificate of an MX host."""
    _signals(obs, active_knowledge().smtp, x, full=False)
