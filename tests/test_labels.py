"""Every label of a state, action, role, kind or flag is in the English catalogue
(docs/architecture.md "Labels"): the labels are lazy strings pybabel extracts, so an English
reader sees English names, not the Chinese source."""
from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from subsidy.common.docs import load_machines
from subsidy.common.labels import Labelled

CATALOGUE = Path(__file__).resolve().parent.parent / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def labelled_enums():
    load_machines()  # imports every module, so every enum exists
    seen, todo = [], list(Labelled.__subclasses__())
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


def test_every_label_has_an_english_translation():
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f)
    enums = labelled_enums()
    assert len(enums) > 15
    untranslated = [f"{cls.__name__}.{m.name}: {m.source}" for cls in enums for m in cls
                    if not (catalogue.get(m.source) and catalogue.get(m.source).string)]
    assert untranslated == []


def test_a_label_reads_in_the_requests_language(app):
    from flask_babel import refresh

    from subsidy.accounts.models import Role

    with app.test_request_context("/?lang=en"):
        english = str(Role.village_clerk.label)
        refresh()  # the test's requests share one app context, where Flask-Babel keeps the locale
    with app.test_request_context("/"):
        chinese = str(Role.village_clerk.label)
    assert chinese == "村级经办员"
    assert Role.village_clerk.source == "村级经办员"
    assert english == "Village clerk"
