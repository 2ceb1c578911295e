"""Enums that carry their own label, translated (docs/architecture.md "Labels").

Every state, action, role, kind and flag of the platform is such an enum: the member knows its
stored value and its Chinese label, written once beside it through `lazy_gettext`, so that
`pybabel extract` (keywords `_l`, `lazy_gettext`) finds it and the English catalogue can hold it.
A label becomes text only when shown, in the language of the request that shows it.

    class FilingState(Labelled):
        draft = "draft", _l("草稿")

    FilingState("draft").label  →  草稿 (or "draft" in English)
"""
from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l

__all__ = ["Labelled", "_l"]


class Labelled(enum.Enum):
    """An enum whose members are (value, label): the value is what is stored and sent, the
    label (a lazy string) what a person reads."""

    def __new__(cls, value: str, label):
        member = object.__new__(cls)
        member._value_ = value
        member.label = label
        return member

    def __str__(self) -> str:
        return str(self.label)

    @property
    def source(self) -> str:
        """The label as written (Chinese), untranslated: for what is stored or sent (a risk
        flag's explanation, an SMS), never shown in a reader's language."""
        return self.label._args[0] if hasattr(self.label, "_args") else str(self.label)

    @classmethod
    def choices(cls, members=None) -> list[tuple[str, str]]:
        """(value, label) pairs, for a select field."""
        return [(m.value, m.label) for m in (members or cls)]

    @classmethod
    def by_label(cls) -> dict[str, Labelled]:
        """Members by their Chinese label as written (spreadsheets name them so)."""
        return {m.source: m for m in cls}
