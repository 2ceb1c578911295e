"""QR codes (the `qrcode` package, SVG) for the addresses printed on paper (docs/api.md "Public
pages"): a village's board and a policy. They encode PUBLIC_BASE_URL + the page's path, the
address farmers' phones reach the platform at, never the address a staff member browses."""
from __future__ import annotations

import re

import qrcode
import qrcode.image.svg
from flask import current_app
from markupsafe import Markup


def public_url(path: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def village_url(code: str) -> str:
    return public_url(f"/m/villages/{code}")


def policy_url(policy_id: int) -> str:
    return public_url(f"/m/policies/{policy_id}")


def svg(url: str) -> str:
    """A standalone SVG document: a white square with the code and a 4-module quiet zone (the
    margin scanners need), error correction M so a creased or dirty poster still scans."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4,
                       image_factory=qrcode.image.svg.SvgPathFillImage)
    qr.add_data(url)
    qr.make(fit=True)
    return qr.make_image().to_string(encoding="unicode")


def inline_svg(url: str, label: str = "") -> Markup:
    """The same code to place inside a page, sized by CSS (the fixed mm size removed)."""
    text = svg(url)
    text = re.sub(r"^<\?xml[^>]*>\s*", "", text)
    text = re.sub(r'\s(width|height)="[^"]*"', "", text, count=2)
    title = Markup.escape(label or url)
    text = text.replace(">", f' role="img" aria-label="{title}" class="qr">', 1)
    return Markup(text)  # produced by qrcode from our own URL; the label is escaped
