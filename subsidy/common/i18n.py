"""Interface language. Simplified Chinese is the source language of every message (msgids are
the Chinese text the county reads); other catalogues live in translations/<lang>/."""
from __future__ import annotations

from babel import support
from flask import g, has_app_context, has_request_context, request, session
from flask_babel import get_translations

SUPPORTED = ("zh", "en")


def select_locale() -> str:
    """`?lang=en` switches for the session; otherwise Chinese, whatever the browser says,
    because county staff work in Chinese even on English-language machines. Outside a request
    (a command, the SMS worker) Chinese."""
    if not has_request_context():
        return "zh"
    lang = request.args.get("lang")
    if lang in SUPPORTED:
        session["lang"] = lang
    return session.get("lang", "zh")


def _translations():
    """The request's catalogue, looked up once per request rather than once per message: a
    review page or a queue translates over a thousand labels, and Flask-Babel's own lookup
    (context, locale, cache) per call was most of their rendering time.
    Kept beside Flask-Babel's own per-request state and tied to the locale it chose, so that
    whatever resets that (a new request, `flask_babel.refresh`) resets this too."""
    if not has_app_context():
        return support.NullTranslations()
    state = g.get("_flask_babel")
    kept = getattr(state, "template_translations", None)
    if kept is not None and kept[0] is getattr(state, "babel_locale", None):
        return kept[1]
    translations = get_translations()
    state = g._flask_babel  # created by the lookup above
    state.template_translations = (getattr(state, "babel_locale", None), translations)
    return translations


def install_template_gettext(app) -> None:
    """Replace Flask-Babel's template callables by ones that reuse the request's catalogue."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
