"""Append-only audit log, chained by hash (DESIGN.md "Audit")."""
