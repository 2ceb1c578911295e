"""Gateways: how a message leaves the platform (docs/design.md "SMS").

`console` (the default) writes each message to the log and appends a line to
SMS_OUTBOX_FILE, so `make run` needs no account. `twilio` sends through the real `twilio`
client; TWILIO_BASE_URL lets tests and demos point it at a fake Twilio on 127.0.0.1.

A gateway never touches the database: the worker calls it outside any transaction and
records the `SendResult` afterwards. Every outcome is classified here, once:

- sent: the provider accepted the message (one provider call that created a message);
- transient: worth retrying (HTTP 429, 5xx, timeouts, connection errors). A 5xx, a read
  timeout or a dropped connection is *ambiguous*: the message may exist at the provider.
  Twilio has no idempotency key for creating messages, so such a call is counted
  (`provider_calls`) and a retry may make a duplicate, which is then counted and reported;
- permanent: retrying cannot help (21211 invalid number, 21614 not a mobile, 21610
  unsubscribed, 21617 body too long, any other 4xx).
"""
from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from flask import current_app

from subsidy.common.timeutil import utcnow

log = logging.getLogger("subsidy.sms")

# Chinese reasons a village clerk reads, by provider error code (Twilio's numbering).
REASONS = {
    "21211": "手机号码无效，请核对后修改农户的手机号码",
    "21614": "该号码不是手机号码，无法接收短信，请修改农户的手机号码",
    "21610": "该号码已退订短信（运营商退订）",
    "21617": "短信内容过长",
    "21408": "短信平台未开通向该地区发送的权限",
    "21606": "短信发送号码配置有误",
    "21212": "短信发送号码配置有误",
    "20003": "短信平台账号或密钥有误",
    "20429": "短信平台限流",
    "30003": "对方手机无法接通（关机或停机）",
    "30004": "短信被拦截（对方可能已退订）",
    "30005": "号码不存在或已停机，请核对手机号码",
    "30006": "固定电话或无法接收短信的号码，请修改手机号码",
    "30007": "短信被运营商拦截",
    "30008": "未知原因，运营商未能送达",
    "no_phone": "无手机号码，未发送",
    "opted_out": "该号码已退订短信，未发送",
    "timeout": "短信平台响应超时",
    "connection": "无法连接短信平台",
    "http_500": "短信平台服务器错误",
    "lease_expired": "发送多次中断，已停止",
    "code_unavailable": "验证码已无法发送（系统升级前生成），请农户重新获取",
}
# Codes the village clerk fixes by correcting the household's phone number.
FIX_PHONE_CODES = frozenset({"21211", "21614", "30005", "30006", "no_phone"})
PERMANENT_CODES = frozenset({"21211", "21614", "21610", "21617", "21408", "21606", "21212"})
OPT_OUT_CODE = "21610"


def reason_for(code: str | None, default: str | None = None) -> str:
    if code is None:
        return default or ""
    if code in REASONS:
        return REASONS[code]
    if code.startswith("http_"):
        return f"短信平台返回错误（HTTP {code[5:]}）"
    return default or f"短信平台拒绝发送（错误码 {code}）"


@dataclass(frozen=True)
class SendResult:
    outcome: str  # "sent" | "transient" | "permanent"
    sid: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    ambiguous: bool = False  # the provider may have created the message although we saw an error

    @property
    def provider_calls(self) -> int:
        """Calls that (may) have created a message at the provider."""
        return 1 if self.outcome == "sent" or self.ambiguous else 0


def sent(sid: str) -> SendResult:
    return SendResult("sent", sid=sid)


def transient(code: str, message: str | None = None, *, ambiguous: bool) -> SendResult:
    return SendResult("transient", error_code=code, error_message=message or reason_for(code), ambiguous=ambiguous)


def permanent(code: str, message: str | None = None) -> SendResult:
    return SendResult("permanent", error_code=code, error_message=message or reason_for(code))


@dataclass(frozen=True)
class FetchResult:
    status: str  # the provider's status word (queued, sent, delivered, undelivered, failed, …)
    error_code: str | None = None


def callback_url(public_base_url: str, message_id: int) -> str:
    """Where Twilio posts delivery status: the outbox id rides along, so a late callback for a
    call we saw fail (a timeout) still finds its message."""
    return f"{public_base_url.rstrip('/')}/sms/status?m={message_id}"


class ConsoleGateway:
    """Development gateway: nothing leaves the machine."""

    name = "console"
    _lock = threading.Lock()

    def __init__(self, path: str):
        self.path = path

    def send(self, message_id: int, to: str, body: str, status_callback: str | None = None) -> SendResult:
        sid = "SMconsole" + uuid.uuid4().hex[:23]
        line = f"{utcnow().isoformat(timespec='seconds')}\t{sid}\tm={message_id}\t{to}\t{body}\n".replace("\r", " ")
        log.info("SMS (console) to %s: %s", to, body)
        with self._lock:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            # Owner-only: the console gateway's file is the farmers' phones and codes.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line)
        return sent(sid)

    def fetch(self, sid: str) -> FetchResult | None:
        return None  # a console message has no delivery status to look up

    can_fetch = False


def _twilio_http_client_class():
    from twilio.http.http_client import TwilioHttpClient

    class BaseUrlHttpClient(TwilioHttpClient):
        """The twilio client's base URL is fixed (https://api.twilio.com; `edge`/`region`
        only change the host name), so every request's scheme and host are rewritten to
        TWILIO_BASE_URL here. With the default setting this changes nothing."""

        def __init__(self, base_url: str, **kwargs):
            # Proxy settings (HTTPS_PROXY, NO_PROXY: county networks are often closed) are read
            # once here rather than from the environment on every request.
            kwargs.setdefault("proxy", requests.utils.get_environ_proxies(base_url) or None)
            super().__init__(**kwargs)
            if self.session is not None:
                self.session.trust_env = False
            parts = urlsplit(base_url)
            self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path.rstrip("/")

        def request(self, method, url, *args, **kwargs):
            parts = urlsplit(url)
            url = urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment))
            return super().request(method, url, *args, **kwargs)

    return BaseUrlHttpClient


def _connection_refused(exc: BaseException) -> bool:
    """True when the connection was never made, so no message can exist at the provider."""
    from urllib3.exceptions import NewConnectionError

    seen = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, NewConnectionError):
            return True
        stack.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return False


def classify_http_error(status: int | None, code: int | str | None, text: str = "") -> SendResult:
    code_s = str(code) if code else None
    if status == 429 or code_s == "20429":
        return transient(code_s or "20429", ambiguous=False)
    if status is not None and status >= 500:
        return transient(f"http_{status}", ambiguous=True)
    if status == 401 or code_s == "20003":
        # A wrong token is the county's configuration, not the farmer's number: retry (with
        # backoff, up to SMS_MAX_ATTEMPTS) so that fixing the setting resumes sending.
        return transient(code_s or "20003", ambiguous=False)
    key = code_s or f"http_{status}"
    return permanent(key, reason_for(key, text and f"短信平台拒绝发送：{text[:150]}"))


class TwilioGateway:
    name = "twilio"
    can_fetch = True

    def __init__(self, *, account_sid: str, auth_token: str, base_url: str, timeout: float,
                 from_number: str = "", messaging_service_sid: str = ""):
        from twilio.rest import Client

        if not account_sid or not auth_token:
            raise RuntimeError("SMS_GATEWAY=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if not from_number and not messaging_service_sid:
            raise RuntimeError("SMS_GATEWAY=twilio needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        http_client = _twilio_http_client_class()(base_url, timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.sender = ({"messaging_service_sid": messaging_service_sid} if messaging_service_sid
                       else {"from_": from_number})

    def send(self, message_id: int, to: str, body: str, status_callback: str | None = None) -> SendResult:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            message = self.client.messages.create(to=to, body=body, status_callback=status_callback, **self.sender)
        except TwilioRestException as exc:
            return classify_http_error(exc.status, exc.code, str(exc.msg or ""))
        except TwilioException as exc:
            status, code = getattr(exc, "status", None), getattr(exc, "code", None)
            if status is not None:
                return classify_http_error(status, code, str(getattr(exc, "detail", "") or ""))
            # An answer we could not read (e.g. a 201 with a broken body): may have been created.
            return transient("provider_error", f"短信平台返回了无法识别的结果：{exc}"[:250], ambiguous=True)
        except requests.exceptions.ConnectTimeout:
            return transient("connection", ambiguous=False)
        except requests.exceptions.Timeout:
            return transient("timeout", ambiguous=True)
        except requests.exceptions.ConnectionError as exc:
            return transient("connection", ambiguous=not _connection_refused(exc))
        except requests.exceptions.RequestException as exc:
            return transient("connection", f"连接短信平台出错：{type(exc).__name__}", ambiguous=True)
        if not getattr(message, "sid", None):
            return transient("provider_error", "短信平台未返回消息编号", ambiguous=True)
        return sent(message.sid)

    def fetch(self, sid: str) -> FetchResult | None:
        from twilio.base.exceptions import TwilioException

        try:
            message = self.client.messages(sid).fetch()
        except (TwilioException, requests.exceptions.RequestException) as exc:
            log.warning("could not look up SMS %s: %s", sid, exc)
            return None
        status = getattr(message.status, "value", message.status)
        return FetchResult(str(status), str(message.error_code) if message.error_code else None)


def make_gateway(config=None):
    config = config or current_app.config
    kind = config.get("SMS_GATEWAY", "console")
    if kind == "console":
        path = config.get("SMS_OUTBOX_FILE") or os.path.join(current_app.instance_path, "sms-outbox.log")
        return ConsoleGateway(path)
    if kind == "twilio":
        return TwilioGateway(
            account_sid=config["TWILIO_ACCOUNT_SID"], auth_token=config["TWILIO_AUTH_TOKEN"],
            base_url=config.get("TWILIO_BASE_URL") or "https://api.twilio.com",
            timeout=float(config.get("TWILIO_TIMEOUT_SECONDS") or 10),
            from_number=config.get("TWILIO_FROM_NUMBER", ""),
            messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        )
    raise RuntimeError(f"unknown SMS_GATEWAY {kind!r}: use console or twilio")
