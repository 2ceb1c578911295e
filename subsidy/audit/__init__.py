"""Append-only audit log, chained by hash (docs/design.md "Audit")."""
