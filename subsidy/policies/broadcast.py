"""The SMS that may go with a newly published policy: one message to every household the
policy applies to, through the notification service's broadcast (subsidy.notify.broadcast):
households under the policy's region with a valid mobile number that has not opted out. The
admin sees the exact text, its segment count, the recipients and the total segments (what the
county pays for) before confirming."""
from __future__ import annotations

from flask import current_app

from subsidy.accounts.permissions import Perm, requires
from subsidy.notify import broadcast as notify_broadcast


def default_body(policy) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"县里发布了惠民政策《{policy.title}》，详见 {base}/m/policies/{policy.id}"


def _field(exc):
    """The notification service names the text `body`; on the publish form it is `broadcast_body`."""
    if "body" in exc.fields:
        exc.fields["broadcast_body"] = exc.fields.pop("body")
    return exc


@requires(Perm.broadcast_sms)
def preview(actor, policy, body: str) -> dict:
    from subsidy.errors import ValidationError

    try:
        p = notify_broadcast.preview_broadcast(actor, policy.region_code, body)
    except ValidationError as exc:
        raise _field(exc) from None
    return {"body": p.body, "text": p.text, "segments_each": p.segments_each, "recipients": p.recipients,
            "total_segments": p.total_segments, "households": p.households, "no_phone": p.no_phone,
            "opted_out": p.opted_out}


@requires(Perm.broadcast_sms)
def send(actor, policy, body: str) -> dict:
    """Owe the messages in the caller's transaction (the publish request's)."""
    from subsidy.errors import ValidationError

    try:
        sent = notify_broadcast.create_broadcast(actor, policy.region_code, body)
    except ValidationError as exc:
        raise _field(exc) from None
    return {"messages": sent.messages, "segments_each": sent.segments_each, "broadcast_id": sent.id}
