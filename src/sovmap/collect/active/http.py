"""HTTP tenant discovery for one domain: Microsoft's home-realm and OpenID-configuration
documents, Google's domain sign-in page, and the MTA-STS policy file. Every answer becomes
an :class:`~sovmap.model.Observation` of kind ``http-tenant`` (``http-mta-sts``): the URL as
``via``, one record per field read, the raw values kept (escaped only where shown).

Requests are GET only, never follow a redirect (a redirect is itself the answer), read at
most ``max_bytes`` and wait at most ``timeout`` per step.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from sovmap.collect.active.budget import BudgetSpent, Politeness
from sovmap.collect.active.settings import ActiveSettings
from sovmap.model import RR, Observation, Status

#: the fields of the realm document kept as records
REALM_FIELDS = ("NameSpaceType", "FederationBrandName", "CloudInstanceName", "DomainName")
#: the fields of the OpenID configuration kept as records (tenant_id read from the issuer)
OPENID_FIELDS = ("tenant_region_scope", "cloud_instance_name", "issuer")
MAX_VALUE = 512  # one kept value, at most


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    location: str
    body: bytes


class FetchError(Exception):
    def __init__(self, status: Status, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def fetch(url: str, s: ActiveSettings, gate: Politeness) -> Reply:
    """One GET of ``url``: status, Location and at most ``max_bytes`` of the body."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, parts.port, timeout=s.timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=s.timeout)
    try:
        with gate.turn(f"{host}:{parts.port or ''}"):
            conn.request("GET", path, headers={"User-Agent": "sovmap", "Accept": "*/*"})
            resp = conn.getresponse()
            body = resp.read(s.max_bytes + 1)
            location = resp.getheader("Location", "") or ""
            return Reply(resp.status, location[:MAX_VALUE], body)
    except BudgetSpent as exc:
        raise FetchError(Status.REFUSED, "request budget of the scan spent") from exc
    except TimeoutError as exc:
        raise FetchError(Status.TIMEOUT, str(exc) or "timeout") from exc
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        raise FetchError(Status.OTHER, f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()


def endpoint(s: ActiveSettings, name: str, domain: str) -> str:
    return s.endpoints[name].replace("{domain}", quote(domain, safe=".-"))


def _json(body: bytes, s: ActiveSettings) -> dict[str, Any] | None:
    """A JSON object of at most ``max_bytes`` (else None: not an answer we read)."""
    if len(body) > s.max_bytes:
        return None
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _text(value: Any) -> str:
    return str(value)[:MAX_VALUE] if isinstance(value, str | int | float | bool) else ""


def _observation(
    qtype: str, domain: str, url: str, records: list[tuple[str, str]], status: Status
) -> Observation:
    answers = tuple(RR(domain, k, 0, v) for k, v in records)
    return Observation("http-tenant", domain, qtype, status, answers, url)


def _ask(
    qtype: str, url: str, domain: str, s: ActiveSettings, gate: Politeness
) -> tuple[Reply | None, Observation | None]:
    try:
        return fetch(url, s, gate), None
    except FetchError as exc:
        rec = [("ERROR", exc.detail[:MAX_VALUE])]
        return None, _observation(qtype, domain, url, rec, exc.status)


def realm(domain: str, s: ActiveSettings, gate: Politeness) -> Observation:
    url = endpoint(s, "realm", domain)
    reply, failed = _ask("REALM", url, domain, s, gate)
    if reply is None:
        assert failed is not None
        return failed
    records = [("HTTP", str(reply.status))]
    doc = _json(reply.body, s) if reply.status == 200 else None
    for key in REALM_FIELDS if doc else ():
        assert doc is not None
        value = _text(doc.get(key))
        if value:
            records.append((key, value))
    return _observation("REALM", domain, url, records, Status.NOERROR)


def openid(domain: str, s: ActiveSettings, gate: Politeness) -> Observation:
    url = endpoint(s, "openid", domain)
    reply, failed = _ask("OPENID", url, domain, s, gate)
    if reply is None:
        assert failed is not None
        return failed
    records = [("HTTP", str(reply.status))]
    doc = _json(reply.body, s)
    if doc is not None and reply.status == 200:
        for key in OPENID_FIELDS:
            value = _text(doc.get(key))
            if value:
                records.append((key, value))
        tenant = tenant_id(_text(doc.get("issuer")))
        if tenant:
            records.append(("tenant_id", tenant))
    elif doc is not None:  # Microsoft's error document: an unknown tenant
        code = _text(doc.get("error"))
        if code:
            records.append(("error", code))
    return _observation("OPENID", domain, url, records, Status.NOERROR)


def tenant_id(issuer: str) -> str:
    """The tenant id in an issuer ``https://login.microsoftonline.com/<id>/v2.0``."""
    parts = urlsplit(issuer).path.strip("/").split("/")
    return parts[0].lower() if parts and len(parts[0]) == 36 and parts[0].count("-") == 4 else ""


def google(domain: str, s: ActiveSettings, gate: Politeness) -> Observation:
    url = endpoint(s, "google", domain)
    reply, failed = _ask("GOOGLE", url, domain, s, gate)
    if reply is None:
        assert failed is not None
        return failed
    records = [("HTTP", str(reply.status))]
    if 300 <= reply.status < 400 and reply.location:
        records.append(("redirect", reply.location))
    return _observation("GOOGLE", domain, url, records, Status.NOERROR)


def mta_sts_policy(domain: str, s: ActiveSettings, gate: Politeness) -> Observation:
    """The MTA-STS policy file (RFC 8461 section 3.2): its ``version``, ``mode``,
    ``max_age`` and ``mx`` lines as records."""
    url = endpoint(s, "mta_sts", domain)
    try:
        reply = fetch(url, s, gate)
    except FetchError as exc:
        rr = (RR(domain, "ERROR", 0, exc.detail[:MAX_VALUE]),)
        return Observation("http-mta-sts", domain, "POLICY", exc.status, rr, url)
    records = [("HTTP", str(reply.status))]
    if reply.status == 200 and len(reply.body) <= s.max_bytes:
        text = reply.body.decode("utf-8", "backslashreplace")
        for line in text.splitlines()[: s.max_lines]:
            key, sep, value = line.partition(":")
            key = key.strip().lower()
            if sep and key in ("version", "mode", "max_age", "mx"):
                records.append((key, value.strip()[:MAX_VALUE]))
    answers = tuple(RR(domain, k, 0, v) for k, v in records)
    return Observation("http-mta-sts", domain, "POLICY", Status.NOERROR, answers, url)
