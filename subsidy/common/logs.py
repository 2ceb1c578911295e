"""Logs never hold a farmer's ID number or mobile number in full. Searches of the register go
by GET (they are bookmarkable and paged), so the numbers typed into them reach the access logs
of the development server and of gunicorn in their query strings, and a worker's log line may
name a recipient. Every log record of the process is masked as the publicity boards mask
(640425********1234, 139****5678): the record factory is replaced once, so no logger, ours or
a library's, can forget it."""
from __future__ import annotations

import logging
import re

from subsidy.common.masking import mask_id_number, mask_phone

_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_PHONE = re.compile(r"(?<![0-9])((?:\+?86)?)(1[0-9]{10})(?![0-9])")


def mask_numbers(text: str) -> str:
    masked = _ID.sub(lambda m: mask_id_number(m.group()), text)
    return _PHONE.sub(lambda m: m.group(1) + mask_phone(m.group(2)), masked)


class MaskedLogRecord(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802 (logging's name)
        return mask_numbers(super().getMessage())


def install() -> None:
    if logging.getLogRecordFactory() is not MaskedLogRecord:
        logging.setLogRecordFactory(MaskedLogRecord)
