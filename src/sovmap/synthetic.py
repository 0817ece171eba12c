"""Synthetic DNS worlds for tests and benchmarks: N domains with a realistic record mix.

Domains are children of a few parent zones (``dNNNNNNN.sNN.test``) so that a million of them
load quickly into one server; provider zones (Exchange Online Protection, Google, a gateway,
a CDN, Team Cymru's origin-AS and AS-name interfaces) answer the follow-up questions (MX host
addresses, SPF includes, CNAME targets, the origin AS of an address and the AS's name).
The mix is deterministic in N and the seed, so two runs build the same world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

SHARDS = 16

_PROVIDER_ZONES = {
    "mail.protection.outlook.com": [
        "* A 192.0.2.10",
    ],
    "protection.outlook.com": [
        'spf TXT "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip6:2a01:111:f400::/48 -all"',
    ],
    "outlook.com": [
        "autodiscover CNAME autod.ha-autod.office.com.",
    ],
    "google.com": [
        "aspmx.l A 192.0.2.20",
        "alt1.aspmx.l A 192.0.2.21",
        '_spf TXT "v=spf1 include:_netblocks.google.com ~all"',
        '_netblocks TXT "v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ~all"',
    ],
    "pphosted.com": [
        "* A 192.0.2.30",
        '_spf TXT "v=spf1 ip4:148.163.128.0/19 -all"',
    ],
    "cloudfront.net": [
        "* A 192.0.2.40",
    ],
    # Team Cymru's origin-AS interface, as a recursive resolver would answer it for the
    # documentation networks used here (AS numbers from the documentation range, RFC 5398)
    "origin.asn.cymru.com": [
        '*.2.0.192 TXT "64496 | 192.0.2.0/24 | US | arin | 2010-01-01"',
        '*.100.51.198 TXT "64497 | 198.51.100.0/24 | NL | ripencc | 2010-01-01"',
        '*.113.0.203 TXT "64498 | 203.0.113.0/24 | DE | ripencc | 2010-01-01"',
    ],
    # Team Cymru's AS-name interface for those AS numbers: "ASN | CC | RIR | allocated | NAME"
    "asn.cymru.com": [
        'AS64496 TXT "64496 | US | arin | 2010-01-01 | EXAMPLE-US-NET, US"',
        'AS64497 TXT "64497 | NL | ripencc | 2010-01-01 | EXAMPLE-NL-HOSTING, NL"',
        'AS64498 TXT "64498 | DE | ripencc | 2010-01-01 | EXAMPLE-DE-CLOUD, DE"',
    ],
    "sendgrid.net": [
        '@ TXT "v=spf1 ip4:167.89.0.0/17 ~all"',
        "* CNAME u1.wl.sendgrid.net.",
        "u1.wl A 192.0.2.50",
    ],
}


@dataclass(frozen=True)
class World:
    directory: Path
    zones: list[str]
    domains_csv: Path
    count: int


def domain_name(i: int) -> str:
    return f"d{i:07d}.s{i % SHARDS:02d}.test"


def _records(i: int, rng: random.Random) -> list[str]:
    d = f"d{i:07d}"
    r = rng.random()
    out: list[str] = []
    if r < 0.04:
        return out  # listed but absent: NXDOMAIN
    if r < 0.60:  # Microsoft 365
        out += [
            f"{d} MX 0 {d}-s.mail.protection.outlook.com.",
            f'{d} TXT "v=spf1 include:spf.protection.outlook.com -all"',
            f'{d} TXT "MS=ms{10000000 + i}"',
            f"autodiscover.{d} CNAME autodiscover.outlook.com.",
            f"selector1._domainkey.{d} CNAME selector1-{d}._domainkey.t{i}.onmicrosoft.com.",
            f"selector2._domainkey.{d} CNAME selector2-{d}._domainkey.t{i}.onmicrosoft.com.",
        ]
        if rng.random() < 0.3:
            out.append(f"enterpriseregistration.{d} CNAME enterpriseregistration.windows.net.")
    elif r < 0.72:  # Google Workspace
        out += [
            f"{d} MX 1 aspmx.l.google.com.",
            f"{d} MX 5 alt1.aspmx.l.google.com.",
            f'{d} TXT "v=spf1 include:_spf.google.com ~all"',
            f'google._domainkey.{d} TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIB"',
        ]
    elif r < 0.82:  # gateway in front of Microsoft 365
        out += [
            f"{d} MX 10 mx0a-{i:08d}.pphosted.com.",
            f"{d} MX 10 mx0b-{i:08d}.pphosted.com.",
            f'{d} TXT "v=spf1 include:spf.protection.outlook.com include:_spf.pphosted.com -all"',
            f"autodiscover.{d} CNAME autodiscover.outlook.com.",
        ]
    else:  # self-hosted, sometimes with a bulk sender
        out += [f"{d} MX 10 mail.{d}", f"mail.{d} A 198.51.100.{i % 250 + 1}"]
        # the server's own network in SPF as well (an ip4: term: the scan maps it to its AS)
        net = f"ip4:198.51.100.{i % 250 + 1}"
        spf = (
            f"v=spf1 mx {net} include:sendgrid.net -all"
            if rng.random() < 0.4
            else f"v=spf1 mx {net} -all"
        )
        out.append(f'{d} TXT "{spf}"')
        if "sendgrid" in spf:
            out.append(f"s1._domainkey.{d} CNAME s1.domainkey.u{i}.wl.sendgrid.net.")
    out.append(f'_dmarc.{d} TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{d}.s00.test"')
    out.append(f"{d} A 203.0.113.{i % 250 + 1}")
    if rng.random() < 0.3:
        out.append(f"www.{d} CNAME e{i}.cloudfront.net.")
    else:
        out.append(f"www.{d} CNAME {d}")
    return out


def build_world(directory: Path, count: int, seed: int = 7) -> World:
    """Write the zone files and ``domains.csv`` for ``count`` domains."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    shards = [
        (directory / f"s{k:02d}.test.zone").open("w", encoding="ascii") for k in range(SHARDS)
    ]
    for k, fh in enumerate(shards):
        fh.write(
            f"$ORIGIN s{k:02d}.test.\n$TTL 3600\n"
            "@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n"
        )
    with (directory / "domains.csv").open("w", encoding="ascii") as csv:
        csv.write("domain,segment\n")
        for i in range(count):
            csv.write(f"{domain_name(i)},seg{i % 7}\n")
            recs = _records(i, rng)
            if recs:
                shards[i % SHARDS].write("\n".join(recs) + "\n")
    for fh in shards:
        fh.close()
    zones = [f"s{k:02d}.test" for k in range(SHARDS)]
    for origin, recs in _PROVIDER_ZONES.items():
        (directory / f"{origin}.zone").write_text(
            f"$ORIGIN {origin}.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
            "@ NS ns1\nns1 A 127.0.0.1\n" + "\n".join(recs) + "\n"
        )
        zones.append(origin)
    return World(directory, zones, directory / "domains.csv", count)
