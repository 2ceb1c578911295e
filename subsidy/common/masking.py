"""Masking for public display (publicity boards, notices): docs/design.md "Farmers' mobile pages".

The board shows enough for a villager to recognise a neighbour and object, never enough to
impersonate one."""


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    if len(name) == 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(id_number: str | None) -> str:
    """640425********1234: the county of issue and the last four, as printed notices do."""
    if not id_number:
        return ""
    if len(id_number) <= 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def account_tail(account: str | None) -> str:
    """Last four digits of a payout account, as the bank's own SMS shows it (尾号1234)."""
    return account[-4:] if account else ""
