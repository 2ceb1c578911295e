"""Imports every area's models so that the metadata (and Alembic) sees the whole schema."""
from subsidy.accountability.models import AccountabilityDecision  # noqa: F401
from subsidy.accounts.models import ApiToken, User  # noqa: F401
from subsidy.audit.models import AuditEvent  # noqa: F401
from subsidy.cases.models import Case, CaseCounter, CaseEvent, CaseSettings, WorkCalendarDay, WorkCalendarYear  # noqa: F401
from subsidy.catalogue.models import SubsidyType  # noqa: F401
from subsidy.filings.models import Entry, EntryFlag, EntryNote, Filing, Review, Snapshot, SnapshotLine, WatchListEntry  # noqa: F401
from subsidy.households.models import Household  # noqa: F401
from subsidy.materials.models import MaterialPickup, MaterialReceipt  # noqa: F401
from subsidy.notify.models import Broadcast, InboundMessage, Message, OptOut, SendingControl  # noqa: F401
from subsidy.payments.models import Payment, PaymentBatch, ReceiptSample, ReceiptSampleMember, ResultImport  # noqa: F401
from subsidy.policies.models import Policy, PolicyAttachment  # noqa: F401
from subsidy.projects.models import Project  # noqa: F401
from subsidy.public.models import LoginCode, MobileSignIn  # noqa: F401
from subsidy.recoveries.models import Recovery, Repayment, WriteOff  # noqa: F401
from subsidy.regions.models import Region  # noqa: F401
from subsidy.stats.models import AssessmentWeight, StatsCache  # noqa: F401
