"""Decoding fetched HTML when the declared charset is wrong, missing, or contradicted."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.charsets import choose_encoding, declared_charset, decode_html

TEXT = (
    "The minister said “we are close” — but the café owner’s view differs. "
    "Négociations à Kuala Lumpur… résumé, naïve, œuvre, €5."
)


def page(text: str = TEXT, meta: str = "") -> str:
    return f"<html><head>{meta}<title>Talks</title></head><body><p>{text}</p></body></html>"


def test_windows_1252_declared_as_utf8_keeps_its_smart_quotes() -> None:
    body = page().encode("cp1252")
    assert choose_encoding(body, "utf-8") == "cp1252"
    assert TEXT in decode_html(body, "text/html; charset=UTF-8")


def test_a_short_windows_1252_snippet_prefers_the_web_default() -> None:
    # Many single-byte charsets decode “Hi” alike; the tie goes to windows-1252.
    body = "<p>“Hi” — ok</p>".encode("cp1252")
    assert decode_html(body, "utf-8") == "<p>“Hi” — ok</p>"


def test_a_valid_declaration_is_trusted() -> None:
    text = "Москва: переговоры продолжаются"
    body = page(text).encode("koi8-r")
    assert choose_encoding(body, "koi8-r") == "koi8-r"
    assert text in decode_html(body, "KOI8-R")


def test_the_meta_charset_is_used_when_nothing_is_declared() -> None:
    body = page(meta='<meta charset="windows-1252">').encode("cp1252")
    assert choose_encoding(body, None) == "cp1252"
    http_equiv = '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">'
    body = page("Prix: 5 € net", meta=http_equiv).encode("iso-8859-15")
    assert "5 € net" in decode_html(body, None)


def test_a_lying_meta_falls_through_to_detection() -> None:
    body = page(meta='<meta charset="utf-8">').encode("cp1252")
    assert TEXT in decode_html(body, None)


def test_latin1_labels_mean_windows_1252_as_in_browsers() -> None:
    body = page().encode("cp1252")
    assert choose_encoding(body, "ISO-8859-1") == "cp1252"
    assert TEXT in decode_html(body, "latin1")


def test_utf8_declared_as_a_legacy_charset_is_read_as_utf8() -> None:
    body = page().encode("utf-8")
    assert choose_encoding(body, "windows-1252") == "utf-8"
    assert TEXT in decode_html(body, "iso-8859-1")


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_a_bom_beats_every_declaration(bom: bytes, codec: str) -> None:
    body = bom + page(meta='<meta charset="koi8-r">').encode(codec)
    assert TEXT in decode_html(body, "windows-1252")
    assert not decode_html(body, None).startswith("\ufeff")


def test_undeclared_utf8_is_detected() -> None:
    assert TEXT in decode_html(page().encode("utf-8"), None)


@pytest.mark.parametrize("label", ["no-such-charset", "utf-7", "base64", "rot13", ""])
def test_unknown_or_unsafe_labels_are_ignored(label: str) -> None:
    body = page().encode("utf-8")
    assert choose_encoding(body, label) == "utf-8"
    assert TEXT in decode_html(body, label)


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("text/html; charset=UTF-8", "UTF-8"),
        ('text/html; charset="windows-1252"', "windows-1252"),
        ("text/html;charset=koi8-r;foo=bar", "koi8-r"),
        ("text/html", None),
        ("utf-8", "utf-8"),
        (None, None),
        ("", None),
    ],
)
def test_declared_charset_reads_a_content_type_or_a_bare_label(value: str | None, label: str | None) -> None:
    assert declared_charset(value) == label


@given(body=st.binary(max_size=2048), declared=st.one_of(st.none(), st.text(max_size=40)))
def test_decoding_never_raises(body: bytes, declared: str | None) -> None:
    assert isinstance(decode_html(body, declared), str)


def test_a_non_western_page_declared_wrongly_is_detected() -> None:
    text = "Переговоры в Куала-Лумпуре продолжаются: министры обсуждают пошлины и квоты."
    body = page(text * 3).encode("cp1251")
    assert text in decode_html(body, "utf-8")
