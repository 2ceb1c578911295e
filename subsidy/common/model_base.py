"""Declarative base for every model: naming convention, aware-UTC timestamps, money as Decimal."""
from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

# Alembic needs stable constraint names to alter them later, on SQLite above all.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in Python on every database.

    SQLite has no time zones: values are stored as naive UTC and come back aware.
    A naive datetime handed in is a programming error, refused rather than guessed."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Money = sa.Numeric(14, 2)
Area = sa.Numeric(12, 2)


class Base(DeclarativeBase):
    # Given as one registry: Flask-SQLAlchemy subclasses this base, and SQLAlchemy refuses a
    # per-class type_annotation_map beside an inherited registry.
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), Decimal: Money},
    )


def enum_column(enum_cls: type[enum.Enum], **kw) -> sa.Enum:
    """Store an enum by its value as VARCHAR with a CHECK constraint, the same on both databases."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        name=enum_cls.__name__.lower(),
        **kw,
    )


def render_item(type_, obj, autogen_context):
    """Alembic: write our column types as plain SQLAlchemy types, so migrations never import
    application code (which may change after the migration is written)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
