"""Text from people and systems, checked at the edge; text going out to files, cleaned.

Names and other single-line fields are refused when they hold a control character (C0, DEL,
C1), a zero-width character (U+200B..U+200F, U+2060, U+FEFF) or a bidirectional override or
isolate (U+202A..U+202E, U+2066..U+2069, U+061C): none of them can be typed on purpose, they
come from pasting, and they make a name look like another one (or, for \\x00, break every
spreadsheet export the name appears in). Multi-line bodies keep their line breaks and tabs; the
other characters are removed there, since a body pasted from a chat or a document often carries
them and the clerk cannot see what to delete.

`clean_cell` is the last line of defence for exports: what was stored before these checks
existed must still export (openpyxl raises IllegalCharacterError on C0 controls)."""
from __future__ import annotations

import re

_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_INVISIBLE = "\u200b-\u200f\u2060\ufeff"
_BIDI = "\u202a-\u202e\u2066-\u2069\u061c"
_SEPARATORS = "\u2028\u2029"  # LINE / PARAGRAPH SEPARATOR: line breaks in disguise

_NOT_IN_LINE = re.compile(f"[\t\n\r{_CONTROLS}{_INVISIBLE}{_BIDI}{_SEPARATORS}]")
_NOT_IN_BODY = re.compile(f"[{_CONTROLS}{_INVISIBLE}{_BIDI}]")
_NEWLINES = re.compile(f"\r\n?|[{_SEPARATORS}]")
_NOT_IN_CELL = re.compile(f"[{_CONTROLS}{_INVISIBLE}{_BIDI}{_SEPARATORS}]")


def invisible_message(label: str) -> str:
    return f"{label}中含有控制字符或不可见字符（如零宽空格、方向控制符），请删除后重新输入"


def has_forbidden(text: str) -> bool:
    """True when `text` holds a character no single-line field may hold (a tab or line break included)."""
    return _NOT_IN_LINE.search(text) is not None


def check_line(text: str, label: str) -> str:
    """`text` unchanged, or ValueError (with a message naming `label`) when it holds a control,
    zero-width or bidirectional-control character, a tab or a line break."""
    if _NOT_IN_LINE.search(text) is not None:
        raise ValueError(invisible_message(label))
    return text


def single_line(value, *, label: str, limit: int, required: bool = True) -> str:
    """A name or other one-line field: trimmed, clean (`check_line`), at most `limit` characters."""
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValueError(f"请填写{label}")
    check_line(text, label)
    if len(text) > limit:
        raise ValueError(f"{label}不超过 {limit} 字")
    return text


def clean_multiline(value) -> str:
    """A body of text: line breaks made \\n, tabs and line breaks kept, every other control,
    zero-width or bidirectional-control character removed; surrounding whitespace trimmed."""
    text = "" if value is None else str(value)
    if _NOT_IN_BODY.search(text) is None and "\r" not in text and "\u2028" not in text and "\u2029" not in text:
        return text.strip()
    return _NOT_IN_BODY.sub("", _NEWLINES.sub("\n", text)).strip()


def clean_cell(text: str) -> str:
    """A text cell of an export with every character removed that breaks a spreadsheet (openpyxl
    refuses C0 controls) or hides what it shows; tabs and line breaks kept."""
    if _NOT_IN_CELL.search(text) is None:
        return text
    return _NOT_IN_CELL.sub("", text)


# ---------------------------------------------------------------- NUL bytes, anywhere in a request

def _nul_in_json(value, name: str = "body") -> str | None:
    stack = [(value, name)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in str(key):
                    return where
                stack.append((child, key if where == "body" else f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}.{i}") for i, child in enumerate(item))
    return None


def nul_field(request) -> str | None:
    """The name of the first field of `request` holding a NUL byte (query string, form, file
    names, JSON strings, path values), or None."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and "\x00" in value:
            return name
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if "\x00" in name or "\x00" in value:
                return name
    for name, upload in request.files.items(multi=True):
        if "\x00" in (upload.filename or ""):
            return name
    if request.is_json:
        return _nul_in_json(request.get_json(silent=True))
    return None


def refuse_nul_bytes():
    """before_request: a NUL byte is no character anyone types, PostgreSQL cannot store or even
    compare it in a text column (psycopg raises DataError: every search box, sign-in name or
    filter holding %00 was a 500 there), and it broke spreadsheet exports. Refused at the edge,
    once, for every request: 400 naming the field (a page or `{"error": …}`)."""
    from flask import request
    from werkzeug.exceptions import RequestEntityTooLarge

    from subsidy.errors import ValidationError

    try:
        name = nul_field(request)
    except RequestEntityTooLarge:
        return  # the view answers that itself (413 with the limit, `subsidy.common.xlsx.read_upload`)
    if name is not None:
        raise ValidationError("输入中含有空字符（\\x00），请删除后重试", fields={name: "不能含有空字符（\\x00）"})
