"""Glue between WTForms and domain errors: a service's field errors shown beside the fields."""
from __future__ import annotations

from subsidy.errors import DomainError


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
