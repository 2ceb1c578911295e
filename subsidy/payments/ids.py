"""交易流水号 (disbursement id): unique, readable, and self-checking.

Form (22 digits): the county code (6), then `1`, the batch id (7), the payment's sequence in
the batch (6) and two check digits:

    640425 1 0000012 000034 57
    county   batch   seq    check

The check digits are ISO 7064 MOD 97-10 over `batch·10⁶ + seq` (the scheme of IBAN): they
catch every single wrong digit and every swap of two neighbouring digits, so a mistyped id in a
bank's file is reported as malformed instead of matching another household's payment. The id
is computed inside the INSERT … SELECT that creates a batch (integer arithmetic only, the same
on SQLite and PostgreSQL) and verified in Python when a result file comes back.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

MAX_BATCH_ID = 9_999_999
MAX_SEQ = 999_999
_BASE = 10**15
_RE = re.compile(r"^(\d{6})1(\d{7})(\d{6})(\d{2})$")


def check_digits(body: int) -> int:
    return 98 - (body * 100) % 97


def make_id(county_code: str, batch_id: int, seq: int) -> str:
    body = batch_id * 10**6 + seq
    return f"{county_code}{_BASE + body * 100 + check_digits(body)}"


def is_valid(text: str) -> bool:
    m = _RE.match(text or "")
    if not m:
        return False
    body = int(m.group(2)) * 10**6 + int(m.group(3))
    return int(m.group(4)) == check_digits(body) and int(m.group(3)) >= 1


def sql_id(county_code: str, batch_id: int, seq):
    """The same id as `make_id`, as a SQL expression of the sequence column `seq`."""
    body = sa.literal(batch_id * 10**6, sa.BigInteger) + sa.cast(seq, sa.BigInteger)
    number = sa.literal(_BASE, sa.BigInteger) + body * 100 + (98 - (body * 100) % 97)
    return sa.literal(county_code, sa.String) + sa.cast(number, sa.String)
