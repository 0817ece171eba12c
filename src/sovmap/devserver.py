"""A small authoritative nameserver for tests and the demo, on loopback only.

It serves a directory of zone files (``<origin>.zone``) over UDP and TCP and can misbehave on
purpose, as listed in an optional ``faults.yaml`` beside the zones::

    - {name: broken.example, action: servfail}     # servfail | refused | formerr | timeout
    - {name: big.example, type: TXT, action: truncate}   # TC over UDP, full answer over TCP
    - {name: evil.example, action: garbage}        # random bytes with the right ID
    - {name: spoof.example, action: wrong-id}      # the answer carries another ID
    - {name: odd.example, action: wrong-question}  # the answer echoes another question
    - {name: loop.example, action: pointer-loop}   # a compression-pointer cycle

It is deliberately simple (dnspython builds the answers); it is not a production server.
"""

from __future__ import annotations

import os
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import yaml


@dataclass(frozen=True)
class Fault:
    name: str
    rtype: str  # "*" for any
    action: str


class ZoneSet:
    def __init__(self, directory: Path) -> None:
        self.zones: dict[dns.name.Name, dns.zone.Zone] = {}
        for path in sorted(Path(directory).glob("*.zone")):
            origin = dns.name.from_text(path.name[: -len(".zone")])
            self.zones[origin] = dns.zone.from_file(
                str(path), origin=origin, relativize=False, check_origin=False
            )
        self.faults: list[Fault] = []
        fpath = Path(directory) / "faults.yaml"
        if fpath.exists():
            for raw in yaml.safe_load(fpath.read_text()) or []:
                self.faults.append(
                    Fault(str(raw["name"]).lower().rstrip("."), raw.get("type", "*"), raw["action"])
                )

    def find_zone(self, name: dns.name.Name) -> dns.zone.Zone | None:
        n = name
        while True:
            z = self.zones.get(n)
            if z is not None:
                return z
            if n == dns.name.root:
                return None
            n = n.parent()

    def fault(self, qname: str, rtype: str) -> str | None:
        for f in self.faults:
            if f.name == qname and f.rtype in ("*", rtype):
                return f.action
        return None

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        resp = dns.message.make_response(query)
        resp.flags &= ~dns.flags.RA
        q = query.question[0]
        zone = self.find_zone(q.name)
        if zone is None or zone.origin is None:
            resp.set_rcode(dns.rcode.REFUSED)
            return resp
        resp.flags |= dns.flags.AA
        name = q.name
        for _ in range(8):
            node = zone.get_node(name)
            if node is None:
                node = _wildcard_node(zone, name)
            if node is None:
                if not resp.answer:
                    resp.set_rcode(dns.rcode.NXDOMAIN)
                    soa = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)
                    resp.authority.append(
                        dns.rrset.from_rdata_list(zone.origin, soa.ttl, list(soa))
                    )
                return resp
            rds = node.get_rdataset(dns.rdataclass.IN, q.rdtype)
            if rds is not None:
                resp.answer.append(dns.rrset.from_rdata_list(name, rds.ttl, list(rds)))
                return resp
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None or q.rdtype == dns.rdatatype.CNAME:
                return resp
            resp.answer.append(dns.rrset.from_rdata_list(name, cname.ttl, list(cname)))
            name = cname[0].target
            nz = self.find_zone(name)
            if nz is not zone:
                return resp  # out of zone: the resolver would chase it
        return resp


def _wildcard_node(zone: dns.zone.Zone, name: dns.name.Name) -> Any:
    """The wildcard that answers for a name the zone does not have (RFC 4592): ``*`` below
    the closest encloser, if there is one (an empty non-terminal is an encloser too)."""
    assert zone.origin is not None
    n = name.parent()
    while n.is_subdomain(zone.origin):
        star = zone.get_node(dns.name.Name(("*", *n.labels)))
        if star is not None:
            return star
        if zone.get_node(n) is not None or _has_below(zone, n):
            return None  # the closest encloser has no wildcard
        if n == zone.origin:
            return None
        n = n.parent()
    return None


def _has_below(zone: dns.zone.Zone, n: dns.name.Name) -> bool:
    assert zone.origin is not None
    for k in zone.nodes:
        full = k.derelativize(zone.origin) if not k.is_absolute() else k
        if full != n and full.is_subdomain(n):
            return True
    return False


def _pointer_loop(query: bytes) -> bytes:
    qid = query[:2]
    # header: 1 question, 1 answer; the answer's owner name points at itself
    header = qid + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
    qend = 12
    while query[qend] != 0:
        qend += query[qend] + 1
    question = query[12 : qend + 5]
    off = len(header) + len(question)
    rr = (
        struct.pack("!H", 0xC000 | off)
        + b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
    )
    return header + question + rr


class _Handler:
    zones: ZoneSet

    def respond(self, data: bytes, tcp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        q = query.question[0]
        qname = q.name.to_text(omit_final_dot=True).lower()
        action = self.zones.fault(qname, dns.rdatatype.to_text(q.rdtype))
        if action == "timeout":
            return None
        if action == "garbage":
            return data[:2] + os.urandom(40)
        if action == "pointer-loop":
            return _pointer_loop(data)
        resp = self.zones.answer(query)
        if action in ("servfail", "refused", "formerr"):
            resp.answer.clear()
            resp.set_rcode(
                {
                    "servfail": dns.rcode.SERVFAIL,
                    "refused": dns.rcode.REFUSED,
                    "formerr": dns.rcode.FORMERR,
                }[action]
            )
        if action == "truncate" and not tcp:
            resp.answer.clear()
            resp.flags |= dns.flags.TC
        try:
            wire = resp.to_wire(max_size=65535 if tcp else _udp_limit(query))
        except dns.exception.TooBig:
            # as a real server does: an empty answer with TC set, the client asks over TCP
            resp.answer.clear()
            resp.flags |= dns.flags.TC
            wire = resp.to_wire()
        if action == "wrong-id":
            wire = struct.pack("!H", (struct.unpack("!H", wire[:2])[0] + 1) & 0xFFFF) + wire[2:]
        if action == "wrong-question":
            other = dns.message.make_query("other.invalid.", q.rdtype)
            other.id = query.id
            wire = dns.message.make_response(other).to_wire()
        return wire


def _udp_limit(query: dns.message.Message) -> int:
    """The client's EDNS0 buffer size (512 without EDNS), as RFC 6891 asks."""
    return max(512, min(query.payload, 4096)) if query.edns >= 0 else 512


class _UDP(socketserver.BaseRequestHandler, _Handler):
    def handle(self) -> None:
        data, sock = self.request
        out = self.respond(data, tcp=False)
        if out is not None:
            sock.sendto(out, self.client_address)


class _TCP(socketserver.BaseRequestHandler, _Handler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        try:
            while True:
                head = _recv_exact(sock, 2)
                if head is None:
                    return
                data = _recv_exact(sock, struct.unpack("!H", head)[0])
                if data is None:
                    return
                out = self.respond(data, tcp=True)
                if out is None:
                    return
                sock.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            return


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class _ThreadingUDP(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True


class _ThreadingTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class DevServer:
    """Serve zones on ``127.0.0.1`` (UDP and TCP on the same port). Use as a context manager."""

    def __init__(self, directory: Path | str, port: int = 0, host: str = "127.0.0.1") -> None:
        zones = ZoneSet(Path(directory))
        handler_attrs: dict[str, Any] = {"zones": zones}
        udp_handler = type("UDPHandler", (_UDP,), handler_attrs)
        tcp_handler = type("TCPHandler", (_TCP,), handler_attrs)
        # bind UDP first on the requested (or a random) port, then TCP on the same port
        for _ in range(20):
            udp = _ThreadingUDP((host, port), udp_handler)
            chosen = udp.server_address[1]
            try:
                tcp = _ThreadingTCP((host, chosen), tcp_handler)
            except OSError:
                udp.server_close()
                if port:
                    raise
                continue
            break
        else:  # pragma: no cover
            raise OSError("no free port for both UDP and TCP")
        self.udp, self.tcp = udp, tcp
        self.host, self.port = host, int(chosen)
        self.zones = zones
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> DevServer:
        for srv in (self.udp, self.tcp):
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
            t.daemon = True
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        for srv in (self.udp, self.tcp):
            srv.shutdown()
            srv.server_close()

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
