"""Turning fetched HTML bytes into text when the declared charset may be wrong or missing."""

from __future__ import annotations

import codecs
import re

__all__ = ["choose_encoding", "decode_html", "declared_charset"]

# Byte-order marks beat every declaration (WHATWG "BOM sniffing"); longest first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Labels browsers decode as something else (WHATWG Encoding): "latin-1" pages are
# really windows-1252, and a <meta> that claims UTF-16 on ASCII bytes means UTF-8.
_LABEL_ALIASES = {
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "utf-16": "utf-8",
    "utf-16-le": "utf-8",
    "utf-16-be": "utf-8",
}

# Codecs Python knows that are no page charset: UTF-7 is an XSS vector browsers refuse,
# the rest are transforms rather than encodings.
_REFUSED_CODECS = frozenset(
    {"utf-7", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"}
)

# Single-byte legacy charsets: a body that is valid, non-ASCII UTF-8 but declared as
# one of these is UTF-8 mislabelled (multi-byte UTF-8 by accident is vanishingly rare).
_LEGACY_SINGLE_BYTE = frozenset(
    {"cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1257", "iso8859-15", "mac-roman"}
)

# The web's fallback charset, preferred when detection finds several that decode alike.
_WEB_DEFAULT = "cp1252"

# How far into the document a <meta charset> is looked for (WHATWG prescans 1024
# bytes; real pages often put it later, behind long <head> comments and scripts).
_META_SCAN_BYTES = 4096

_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]{1,40})""", re.IGNORECASE)
_CONTENT_TYPE_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([^\s;"']+)""", re.IGNORECASE)


def declared_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type value, or the value itself if it is a label."""
    if not content_type:
        return None
    if "=" not in content_type and "/" not in content_type:
        return content_type.strip() or None
    match = _CONTENT_TYPE_CHARSET.search(content_type)
    return match.group(1) if match else None


def choose_encoding(body: bytes, declared: str | None) -> str:
    """The Python codec to decode `body` with: BOM, then declared, then <meta>, then detection.

    A declaration is trusted only when the bytes decode strictly with it, so a
    windows-1252 page served as UTF-8 falls through to the next source.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding
    for label in (declared_charset(declared), _meta_charset(body)):
        encoding = _codec_name(label)
        if encoding is not None and _decodes(body, encoding):
            if encoding in _LEGACY_SINGLE_BYTE and not body.isascii() and _decodes(body, "utf-8"):
                return "utf-8"
            return encoding
    return _detect(body)


def decode_html(body: bytes, declared: str | None) -> str:
    """The page's text, decoded with `choose_encoding`; never raises on bad bytes."""
    encoding = choose_encoding(body, declared)
    return body.decode(encoding, errors="replace")


def _codec_name(label: str | None) -> str | None:
    """Python's canonical codec name for a charset label, or None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except (LookupError, ValueError):
        return None
    if name in _REFUSED_CODECS:
        return None
    return _LABEL_ALIASES.get(name, name)


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body, 0, _META_SCAN_BYTES)
    return match.group(1).decode("ascii") if match else None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _detect(body: bytes) -> str:
    """Statistical detection; ties go to windows-1252, the web's legacy default."""
    if body.isascii() or _decodes(body, "utf-8"):
        return "utf-8"
    import charset_normalizer  # heavy-ish import, only needed for mislabelled pages

    best = charset_normalizer.from_bytes(body).best()
    if best is None:
        return _WEB_DEFAULT if _decodes(body, _WEB_DEFAULT) else "utf-8"
    if _WEB_DEFAULT in best.could_be_from_charset:
        return _WEB_DEFAULT
    return _codec_name(best.encoding) or "utf-8"
