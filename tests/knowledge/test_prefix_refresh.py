"""Refreshing prefix lists: real formats served by a real HTTP server on loopback."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sovmap.cli import main
from sovmap.knowledge import Fingerprint, default_catalogue
from sovmap.knowledge.catalogue import Catalogue
from sovmap.knowledge.prefixes import validate_prefix_document
from sovmap.knowledge.refresh import (
    PrefixFormatError,
    PrefixSource,
    directory_fetcher,
    http_fetcher,
    load_prefix_sources,
    merge_prefixes,
    parse_prefixes,
    refresh_prefixes,
)
from sovmap.model import Capability

FIXTURES = Path(__file__).parent / "data" / "prefix_fixtures"
TODAY = date(2026, 11, 23)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A copy of the fixture tree served over HTTP on 127.0.0.1 (random port)."""
    root = tmp_path / "www"
    shutil.copytree(FIXTURES, root)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _read(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def test_bundled_sources_are_valid_and_name_known_providers() -> None:
    sources = load_prefix_sources()
    cat = default_catalogue()
    assert {s.provider for s in sources} <= set(cat.providers)
    assert {"amazon", "google", "cloudflare", "fastly", "oracle"} <= {s.provider for s in sources}


def test_refresh_over_http_writes_valid_documents(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    out = tmp_path / "out"
    sources = load_prefix_sources()
    known = set(default_catalogue().providers)
    results = refresh_prefixes(sources, http_fetcher(5, base), known, TODAY, out)
    assert [r.error for r in results if not r.ok] == []
    assert {r.id for r in results} == {s.id for s in sources}

    cf = _read(out / "amazon-cloudfront.json")
    # only CLOUDFRONT entries; the two /17 halves merge into one /16
    assert cf["prefixes"] == ["13.32.0.0/15", "13.35.0.0/16", "2600:9000::/28"]
    assert cf["capability"] == "cdn" and cf["fetched"] == "2026-11-23"
    assert cf["source"].startswith("https://docs.aws.amazon.com/")
    assert _read(out / "amazon-ec2.json")["prefixes"] == ["3.120.0.0/14", "2a05:d014::/36"]
    assert _read(out / "cloudflare.json")["prefixes"] == [
        "103.21.244.0/22",
        "104.16.0.0/13",
        "173.245.48.0/20",
        "2400:cb00::/32",
        "2606:4700::/32",
    ]
    assert len(_read(out / "google-cloud.json")["prefixes"]) == 3
    assert len(_read(out / "fastly.json")["prefixes"]) == 5
    assert _read(out / "oracle-oci.json")["prefixes"] == [
        "130.61.0.0/16",
        "132.145.0.0/17",
        "134.70.56.0/21",
    ]
    pages = _read(out / "github-pages.json")["prefixes"]
    assert "185.199.108.153/32" in pages and "192.30.252.0/22" not in pages
    for path in out.glob("*.json"):
        validate_prefix_document(_read(path), path.name, known)


def test_refreshed_prefixes_match_addresses(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    src = [s for s in load_prefix_sources() if s.id == "amazon-cloudfront"]
    refresh_prefixes(src, http_fetcher(5, base), {"amazon"}, TODAY, tmp_path)
    doc = _read(tmp_path / "amazon-cloudfront.json")
    fps = tuple(
        Fingerprint("amazon", "ip", p, "suffix", Capability.CDN, "", 0.7, doc["source"])
        for p in doc["prefixes"]
    )
    cat = Catalogue(providers={}, fingerprints=fps, version="t")
    assert [m.fingerprint.pattern for m in cat.match_ip("13.35.200.1")] == ["13.35.0.0/16"]
    assert cat.match_ip("2600:9000:1::1")
    assert cat.match_ip("3.120.0.1") == ()


def test_a_broken_list_keeps_the_old_file_and_spares_the_rest(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = served
    (root / "api.fastly.com" / "public-ip-list").write_text('{"addresses": ["not-a-prefix"]}')
    (root / "www.cloudflare.com" / "ips-v6").unlink()
    out = tmp_path / "out"
    out.mkdir()
    (out / "fastly.json").write_text("previous")
    sources = [s for s in load_prefix_sources() if s.provider in ("fastly", "cloudflare", "oracle")]
    results = {
        r.id: r
        for r in refresh_prefixes(
            sources, http_fetcher(5, base), {"fastly", "cloudflare", "oracle"}, TODAY, out
        )
    }
    assert "not-a-prefix" in results["fastly"].error
    assert "404" in results["cloudflare"].error
    assert results["oracle-oci"].ok
    assert (out / "fastly.json").read_text() == "previous"
    assert not (out / "cloudflare.json").exists()


@pytest.mark.parametrize(
    ("fmt", "payload", "message"),
    [
        ("aws-ip-ranges", b"{not json", "not valid JSON"),
        ("aws-ip-ranges", b'{"prefixes": [{"region": "x"}]}', "prefixes/0: no ip_prefix"),
        ("google-ipranges", b'{"prefixes": "x"}', "field prefixes: expected a list"),
        ("oracle-public-ip-ranges", b'{"regions": [{"cidrs": [{}]}]}', "regions/0/cidrs/0"),
        ("cidr-lines", b"10.0.0.0/8\n300.1.1.1/32\n", "300.1.1.1/32"),
        ("no-such-format", b"", "unknown format"),
    ],
)
def test_parse_errors_say_where(fmt: str, payload: bytes, message: str) -> None:
    with pytest.raises(PrefixFormatError) as err:
        parse_prefixes(fmt, payload, {}, "https://example.test/list")
    assert "https://example.test/list" in str(err.value)
    assert message in str(err.value)


def test_merge_collapses_and_orders() -> None:
    assert merge_prefixes(
        ["10.0.1.0/24", "2001:db8::/33", "10.0.0.0/24", "2001:db8:8000::/33"]
    ) == ["10.0.0.0/23", "2001:db8::/32"]


def test_unknown_provider_is_refused(tmp_path: Path) -> None:
    src = PrefixSource(
        "x",
        "nobody",
        Capability.CDN,
        ("https://www.cloudflare.com/ips-v4",),
        "cidr-lines",
        "https://example.test",
    )
    [result] = refresh_prefixes([src], directory_fetcher(FIXTURES), {"cloudflare"}, TODAY, tmp_path)
    assert "unknown provider 'nobody'" in result.error


def test_cli_offline_fixture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "knowledge",
            "refresh-prefixes",
            "--provider",
            "cloudflare",
            "--offline-fixture",
            str(FIXTURES),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert "cloudflare" in capsys.readouterr().out
    assert _read(tmp_path / "cloudflare.json")["urls"] == [
        "https://www.cloudflare.com/ips-v4",
        "https://www.cloudflare.com/ips-v6",
    ]


def test_cli_base_url_and_failure_status(
    served: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, root = served
    (root / "api.github.com" / "meta").write_text("[]")
    code = main(
        [
            "knowledge",
            "refresh-prefixes",
            "--provider",
            "github",
            "--provider",
            "fastly",
            "--base-url",
            base,
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "failed  github-pages" in out and "ok      fastly" in out


def test_cli_rejects_unknown_provider(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["knowledge", "refresh-prefixes", "--provider", "nope"]) == 2
    assert "no prefix source for nope" in capsys.readouterr().err
