"""``sovmap knowledge`` and the catalogue loader's errors in Dutch and English, from the
message catalogue (``KNOW_*`` codes): the language from ``--lang`` or ``SOVMAP_LANG``, the exit
codes unchanged (``check``: 1 for an invalid file; other commands 2)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.knowledge.catalogue import KnowledgeError, load_catalogue


def _user_file(tmp_path: Path, capability: str) -> Path:
    """A copy of a bundled provider whose first fingerprint names ``capability``."""
    bundled = resources.files("sovmap.knowledge") / "data" / "providers" / "vade.yaml"
    text = bundled.read_text("utf-8")
    text = text.replace(
        "capability: mail-gateway, service: vade-cloud",
        f"capability: {capability}, service: vade-cloud",
        1,
    )
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "vade.yaml").write_text(text, encoding="utf-8")
    return folder


def test_an_invalid_file_is_said_in_each_language(tmp_path: Path) -> None:
    folder = _user_file(tmp_path, "mailbox")
    with pytest.raises(KnowledgeError) as caught:
        load_catalogue([folder])
    err = caught.value
    assert str(err) == (
        "vade.yaml: field fingerprints/0/capability: 'mailbox' is not among the provider's "
        "capabilities"
    )
    assert err.localised("nl") == (
        "vade.yaml: veld fingerprints/0/capability: 'mailbox' staat niet bij de functies van "
        "de aanbieder"
    )
    assert isinstance(err, ValueError)  # callers that catch ValueError still do


@pytest.mark.parametrize(
    ("lang", "invalid", "ok"),
    [
        (
            "en",
            "invalid: vade.yaml: field fingerprints/0/capability:",
            r"^ok: \d+ providers, \d+ fingerprints",
        ),
        (
            "nl",
            "ongeldig: vade.yaml: veld fingerprints/0/capability:",
            r"^in orde: \d+ aanbieders, \d+ vingerafdrukken",
        ),
    ],
)
def test_check_in_each_language(
    lang: str,
    invalid: str,
    ok: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = _user_file(tmp_path, "mailbox")
    assert main(["knowledge", "check", "--dir", str(folder), "--lang", lang]) == 1
    assert capsys.readouterr().out.startswith(invalid)
    monkeypatch.setenv("SOVMAP_LANG", lang)  # the same without --lang
    assert main(["knowledge", "check", "--dir", str(folder)]) == 1
    assert capsys.readouterr().out.startswith(invalid)
    assert main(["knowledge", "check"]) == 0
    assert re.search(ok, capsys.readouterr().out)


def test_a_loading_command_says_the_knowledge_error_in_dutch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _user_file(tmp_path, "mailbox")
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    db = tmp_path / "s.sqlite"
    db.write_bytes(b"")
    assert main(["knowledge", "gaps", "--db", str(db), "--dir", str(folder), "--lang", "nl"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sovmap: error: vade.yaml: veld fingerprints/0/capability:"), err
    assert main(["knowledge", "gaps", "--db", str(tmp_path / "none.sqlite"), "--lang", "nl"]) == 2
    assert "geen opslag op" in capsys.readouterr().err


def test_list_header_in_dutch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    assert main(["knowledge", "list"]) == 0
    head = capsys.readouterr().out.splitlines()[0].split()
    assert head == ["id", "naam", "moederbedrijf", "rg", "functies"]
