"""Time: everything stored and compared is aware UTC; the county works in China Standard Time."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today() -> date:
    return datetime.now(CHINA_TZ).date()


def to_local(value: datetime | None) -> datetime | None:
    return value.astimezone(CHINA_TZ) if value else None
