"""Website and e-mail values to registrable domains with the bundled Public Suffix List."""

from __future__ import annotations

import pytest

from sovmap.orgs import domains as d
from sovmap.orgs.domains import DomainError, PublicSuffixList, load_psl, registrable


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("https://www.Gemeente.NL:8080/contact?x=1#top", "website", "gemeente.nl"),
        ("www.s-hertogenbosch.nl/", "website", "s-hertogenbosch.nl"),
        ("HTTP://WWW.CJIB.NL.", "website", "cjib.nl"),
        ("//static.example.org/x", "website", "example.org"),
        ("https://www.fryslân.frl/", "website", "xn--frysln-0ta.frl"),
        ("https://www.xn--frysln-0ta.frl", "website", "xn--frysln-0ta.frl"),
        ("https://www.adlwang.ooe.gv.at", "website", "adlwang.ooe.gv.at"),  # delegation zone
        ("gemeindeamt@zurndorf.bgld.gv.at", "email", "zurndorf.bgld.gv.at"),
        ("https://www.ooe.gv.at/", "website", "ooe.gv.at"),
        ("https://www.gemeente-x.gv.at", "website", "gemeente-x.gv.at"),
        ("https://www.tax.service.gov.uk/x", "website", "tax.service.gov.uk"),
        ("https://tool.gemeente.github.io", "website", "gemeente.github.io"),
        ("mailto:Info@CJIB.nl?subject=Vraag", "email", "cjib.nl"),
        ("Gemeente Súdwest-Fryslân <info@sudwestfryslan.nl>", "email", "sudwestfryslan.nl"),
        ("Postmottak@Oslo.Kommune.NO", "email", "oslo.kommune.no"),
        ("postkasse@bücher.de", "email", "xn--bcher-kva.de"),
        ("mail.example.co.uk.", "website", "example.co.uk"),
        ("St.Johann.AT.", "domain", "st.johann.at"),  # a domain is kept as given
        ("https://www.st.johann.at/", "domain", "johann.at"),  # ... a URL is not a domain
        ("a.b.ck", "domain", "a.b.ck"),  # wildcard rule *.ck
        ("www.ck", "domain", "www.ck"),  # exception rule !www.ck
    ],
)
def test_registrable(value: str, kind: str, expected: str) -> None:
    assert registrable(value, kind) == expected


@pytest.mark.parametrize(
    ("value", "kind", "code"),
    [
        ("", "website", d.EMPTY),
        ("https://nl", "website", d.PUBLIC_SUFFIX),
        ("gv.at", "domain", d.PUBLIC_SUFFIX),
        ("inkoop@gov.nl", "email", d.PUBLIC_SUFFIX),
        ("co.uk", "domain", d.PUBLIC_SUFFIX),
        ("http://145.21.10.2/inkoop", "website", d.IP_ADDRESS),
        ("http://[2001:db8::1]/", "website", d.IP_ADDRESS),
        ("192.0.2.10.", "domain", d.IP_ADDRESS),
        ("[2001:DB8::1]", "domain", d.IP_ADDRESS),
        ("2001:db8::ab", "domain", d.IP_ADDRESS),
        ("info@", "email", d.BAD_EMAIL),
        ("zie website", "email", d.BAD_EMAIL),
        ("http://", "website", d.NOT_A_HOSTNAME),
        ("ftp_server!.nl", "domain", d.NOT_A_HOSTNAME),
        ("javascript:alert(1)", "website", d.NOT_A_HOSTNAME),
        ("intranet.local", "domain", d.UNKNOWN_TLD),
    ],
)
def test_rejected_with_code(value: str, kind: str, code: str) -> None:
    with pytest.raises(DomainError) as err:
        registrable(value, kind)
    assert err.value.code == code


def test_bundled_list_is_complete_and_versioned() -> None:
    psl = load_psl()
    assert len(psl.rules) > 5000
    assert psl.version
    assert "nl" in psl.rules and "gv.at" in psl.rules and "ck" in psl.wildcards


def test_parse_rejects_a_file_without_rules() -> None:
    with pytest.raises(ValueError, match="no rules"):
        PublicSuffixList.parse("// only comments\n")
