"""Open objections (异议) against a filing: the guard "no open objection" of 村级备案.

Objections are cases of kind `objection` on a filing's entries; the cases area
owns the rule of what "open" means."""
from __future__ import annotations


def open_objection_count(filing) -> int:
    """How many objections to this filing are received but not yet replied to or closed."""
    # Imported here: the cases area depends on filings' models, not the other way round.
    from subsidy.cases.service import count_open_objections

    return count_open_objections(filing.id)
