"""The printable publicity notice (公示表) posted on the village board (docs/design.md "Farmers'
mobile pages"): project, rate, households with masked names and ID numbers, quantities and
amounts, the publicity period, where to object (the township's phone), and a QR code to the
village's public board page `/m/villages/{code}` (docs/api.md "Public pages")."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext

from subsidy.accounts.permissions import Perm, requires
from subsidy.common.masking import mask_id_number, mask_name
from subsidy.common.money import quantize
from subsidy.extensions import db
from subsidy.filings.models import Entry, FilingState, Snapshot, SnapshotLine, Stage
from subsidy.filings.service import get_filing, totals
from subsidy.households.models import Household
from subsidy.public import qr
from subsidy.regions.models import Region


@requires(Perm.view_filings)
def notice(actor, filing_id: int) -> dict:
    """The notice's content. Once publicized, the lines are those of the publicized snapshot
    (what was posted); a draft shows the current list as a preview."""
    filing = get_filing(actor, filing_id)
    township = db.session.get(Region, filing.region.parent_code)
    publicized = None
    if filing.state != FilingState.draft:
        publicized = db.session.scalar(sa.select(Snapshot).where(
            Snapshot.filing_id == filing.id, Snapshot.round == filing.round, Snapshot.stage == Stage.publicized)
            .order_by(Snapshot.id.desc()).limit(1))
    if publicized is not None:
        rows = db.session.execute(sa.select(SnapshotLine.head_name, SnapshotLine.id_number, SnapshotLine.quantity,
                                            SnapshotLine.amount).where(SnapshotLine.snapshot_id == publicized.id)
                                  .order_by(SnapshotLine.household_id)).all()
        count, total = publicized.entry_count, publicized.total_amount
    else:
        rows = db.session.execute(sa.select(Household.head_name, Household.id_number, Entry.quantity, Entry.amount)
                                  .join(Household, Household.id == Entry.household_id)
                                  .where(Entry.filing_id == filing.id).order_by(Entry.household_id)).all()
        t = totals(filing)
        count, total = t["households"], t["amount"]
    lines = [{"name": mask_name(name), "id_number": mask_id_number(idn), "quantity": quantize(q), "amount": quantize(a)}
             for name, idn, q, a in rows]
    url = qr.village_url(filing.region_code)
    return {"filing": filing, "project": filing.project, "village": filing.region, "township": township,
            "lines": lines, "count": count, "total": total, "preview": publicized is None,
            "board_url": url, "qr": qr.inline_svg(url, gettext("本村公示栏二维码"))}
