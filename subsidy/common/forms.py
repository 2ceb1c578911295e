"""Glue between WTForms and domain errors: a service's field errors shown beside the fields, and
the one way a page is re-drawn after a service refused (never the state the refused
action would have left)."""
from __future__ import annotations

from subsidy.errors import DomainError
from subsidy.extensions import db


def apply_errors(form, exc: DomainError, rename: dict[str, str] | None = None) -> None:
    rename = rename or {}
    placed = False
    for name, message in exc.fields.items():
        field = getattr(form, rename.get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message]
            placed = True
    if not placed:
        form.form_errors.append(exc.message)


def refused(exc: DomainError, form=None, rename: dict[str, str] | None = None) -> int:
    """Undo what the refused call changed (a claimed transition, a flushed row) so the page drawn
    next reads the data as it is, put the messages beside the form's fields (what was typed stays
    in the form), and return the status to answer with (a field to correct is 422)."""
    db.session.rollback()
    if form is not None:
        apply_errors(form, exc, rename)
    return 422 if exc.status == 400 else exc.status


def form_status(form) -> int:
    """The status of a form page: 422 when it is shown again with field errors (a POST that did
    not validate), so a client, a test and a proxy's log can tell a refusal from a page view."""
    return 422 if form.errors else 200
