"""The message catalogue: both languages hold the same codes, part files merge, and a code
given twice is refused rather than silently overridden."""

from __future__ import annotations

from importlib import resources

import pytest

from sovmap import i18n


def _files() -> list[str]:
    folder = resources.files("sovmap.i18n") / "messages"
    return sorted(e.name for e in folder.iterdir() if e.name.endswith(".yaml"))


def test_every_part_has_both_languages() -> None:
    names = _files()
    for name in names:
        stem = name.rsplit(".", 2)
        part = stem[0] if len(stem) == 3 else ""
        for lang in i18n.LANGUAGES:
            twin = f"{part}.{lang}.yaml" if part else f"{lang}.yaml"
            assert twin in names, f"{name} has no {lang} counterpart"


def test_languages_hold_the_same_codes() -> None:
    assert set(i18n.messages("en")) == set(i18n.messages("nl"))


def test_a_code_given_twice_is_refused(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "messages"
    folder.mkdir()
    (folder / "en.yaml").write_text("HELLO: hello\n", "utf-8")
    (folder / "web.en.yaml").write_text("HELLO: hi\n", "utf-8")

    class _Root:
        def __truediv__(self, name: str):
            return folder

    monkeypatch.setattr(i18n.resources, "files", lambda _pkg: _Root())
    i18n.messages.cache_clear()
    try:
        with pytest.raises(i18n.MessageError, match="already given"):
            i18n.messages("en")
    finally:
        i18n.messages.cache_clear()
