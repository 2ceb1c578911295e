"""Interface language. Simplified Chinese is the source language of every message (msgids are
the Chinese text the county reads); other catalogues live in translations/<lang>/."""
from __future__ import annotations

from flask import request, session

SUPPORTED = ("zh", "en")


def select_locale() -> str:
    """`?lang=en` switches for the session; otherwise Chinese, whatever the browser says,
    because county staff work in Chinese even on English-language machines."""
    lang = request.args.get("lang")
    if lang in SUPPORTED:
        session["lang"] = lang
    return session.get("lang", "zh")
