"""A fake Twilio for tests, benchmarks and local demos (never imported by the platform itself).

A small threaded HTTP server on 127.0.0.1 that answers the two calls the platform makes,
`POST /2010-04-01/Accounts/{sid}/Messages.json` (201 with `sid` and `status`, like Twilio)
and `GET /2010-04-01/Accounts/{sid}/Messages/{sid}.json`, so that the real `twilio` client
runs over real HTTP (point TWILIO_BASE_URL at `fake.base_url`). It can be told to fail —
400/21211, 429/20429, 500 (with or without having created the message), a slow answer
beyond the client's timeout, a dropped connection — records everything it received, and
builds or posts status callbacks signed with the auth token, as Twilio does.

Run stand-alone for a demo, with `make run` serving on 127.0.0.1:5000 (the default
PUBLIC_BASE_URL, where the fake posts its signed delivery callbacks):

    python -m tools.fake_twilio --port 8765 --callbacks sent,delivered
    SMS_GATEWAY=twilio TWILIO_BASE_URL=http://127.0.0.1:8765 TWILIO_ACCOUNT_SID=AC$(printf 'f%.0s' {1..32}) \
      TWILIO_AUTH_TOKEN=fake-twilio-auth-token TWILIO_FROM_NUMBER=+15005550006 flask sms worker

(the web server needs the same TWILIO_AUTH_TOKEN to accept the callbacks).
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import email.utils
import json
import socket
import threading
import time
import uuid
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "f" * 32
AUTH_TOKEN = "fake-twilio-auth-token"

# kind -> (HTTP status, Twilio code, message, creates the message first?)
FAILURES = {
    "invalid_number": (400, 21211, "The 'To' number {to} is not a valid phone number.", False),
    "not_mobile": (400, 21614, "'To' number {to} is not a valid mobile number", False),
    "unsubscribed": (400, 21610, "Attempt to send to unsubscribed recipient", False),
    "too_long": (400, 21617, "The concatenated message body exceeds the 1600 character limit.", False),
    "rate_limit": (429, 20429, "Too Many Requests", False),
    "server_error": (500, None, "Internal Server Error", False),
    "server_error_after_create": (500, None, "Internal Server Error", True),
    "bad_gateway": (502, None, "Bad Gateway", False),
}
SPECIAL = {"slow", "drop", "drop_after_create"}


class FakeTwilio:
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, *, port: int = 0,
                 slow_seconds: float = 2.0, latency: float = 0.0, auto_callbacks: list[str] | None = None):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.slow_seconds = slow_seconds
        self.latency = latency
        self.auto_callbacks = auto_callbacks or []
        self.validator = RequestValidator(auth_token)
        self._lock = threading.Lock()
        self._failures: deque[str] = deque()
        self._number_rules: dict[str, str] = {}
        self.messages: dict[str, dict] = {}  # sid -> what was created
        self.creates: list[dict] = []        # every message created, in order
        self.requests: list[dict] = []       # every request received
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeTwilio:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def app_config(self) -> dict:
        """Settings that point the platform's `twilio` gateway at this fake."""
        return {"SMS_GATEWAY": "twilio", "TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token,
                "TWILIO_BASE_URL": self.base_url, "TWILIO_FROM_NUMBER": "+15005550006",
                "TWILIO_MESSAGING_SERVICE_SID": ""}

    # --- programming failures ---------------------------------------------------------------
    def fail_next(self, kind: str, times: int = 1) -> None:
        """The next `times` create calls fail as `kind` (see FAILURES, or slow/drop/drop_after_create)."""
        if kind not in FAILURES and kind not in SPECIAL:
            raise ValueError(kind)
        with self._lock:
            self._failures.extend([kind] * times)

    def fail_for(self, to: str, kind: str) -> None:
        """Every create to this number (E.164) fails as `kind`."""
        self._number_rules[to] = kind

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._number_rules.clear()
            self.messages.clear()
            self.creates.clear()
            self.requests.clear()

    # --- what was received ------------------------------------------------------------------
    def creates_by_message(self) -> Counter:
        """How many provider messages each outbox message (the `m` of its callback URL) made."""
        return Counter(c["m"] for c in self.creates)

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        self.messages[sid]["status"] = status
        self.messages[sid]["error_code"] = error_code

    # --- status callbacks -------------------------------------------------------------------
    def signed_callback(self, sid: str, status: str, error_code: int | None = None, *,
                        url: str | None = None) -> tuple[str, dict, dict]:
        """(url, form, headers) of the status callback Twilio would post for `sid`."""
        msg = self.messages[sid]
        url = url or msg["status_callback"]
        form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid, "From": msg["from"],
                "To": msg["to"], "MessageStatus": status, "SmsStatus": status, "ApiVersion": "2010-04-01"}
        if error_code:
            form["ErrorCode"] = str(error_code)
        return url, form, {"X-Twilio-Signature": self.sign(url, form)}

    def sign(self, url: str, form: dict) -> str:
        return self.validator.compute_signature(url, form)

    def post_callback(self, sid: str, status: str, error_code: int | None = None, post=None):
        """Post a signed callback. `post(url, data, headers)` defaults to requests.post (a live
        server); tests pass their Flask test client's post."""
        url, form, headers = self.signed_callback(sid, status, error_code)
        if post is None:
            import requests

            return requests.post(url, data=form, headers=headers, timeout=10)
        return post(url, data=form, headers=headers)

    def signed_inbound(self, url: str, from_: str, body: str, to: str = "+15005550006") -> tuple[dict, dict]:
        form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": self.account_sid, "From": from_, "To": to,
                "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
        return form, {"X-Twilio-Signature": self.sign(url, form)}

    # --- the API ----------------------------------------------------------------------------
    def _next_failure(self, to: str) -> str | None:
        rule = self._number_rules.get(to)
        if rule:
            return rule
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def _create(self, form: dict) -> dict:
        sid = "SM" + uuid.uuid4().hex
        callback = form.get("StatusCallback")
        m = None
        if callback:
            query = parse_qs(urlsplit(callback).query)
            m = query.get("m", [None])[0]
        now = email.utils.formatdate(usegmt=True)
        msg = {
            "sid": sid, "account_sid": self.account_sid, "api_version": "2010-04-01", "body": form.get("Body", ""),
            "date_created": now, "date_updated": now, "date_sent": None, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0",
            "num_segments": "1", "price": None, "price_unit": "USD",
            "status": "accepted" if form.get("MessagingServiceSid") else "queued", "to": form.get("To"),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json", "subresource_uris": {},
            "status_callback": callback, "m": m,
        }
        with self._lock:
            self.messages[sid] = msg
            self.creates.append(msg)
        if self.auto_callbacks and callback:
            threading.Thread(target=self._auto_callbacks, args=(sid,), daemon=True).start()
        return msg

    def _auto_callbacks(self, sid: str) -> None:
        time.sleep(0.2)
        for status in self.auto_callbacks:
            try:
                self.set_status(sid, status)
                self.post_callback(sid, status)
            except Exception:  # a demo helper: the app may be down
                return


def _public(msg: dict) -> dict:
    return {k: v for k, v in msg.items() if k not in ("status_callback", "m")}


def _handler_for(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body go out in two writes: without this, Nagle and delayed ACKs
            # add ~40 ms to every answer on a kept-alive connection.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format, *args):  # noqa: A002 - quiet
            pass

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _authorised(self) -> bool:
            header = self.headers.get("Authorization", "")
            expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
            if header != expected:
                self._reply(401, {"code": 20003, "message": "Authenticate",
                                  "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
                return False
            return True

        def _error(self, status: int, code: int | None, message: str) -> None:
            payload = {"code": code, "message": message, "status": status}
            if code:
                payload["more_info"] = f"https://www.twilio.com/docs/errors/{code}"
            self._reply(status, payload)

        def do_GET(self):  # noqa: N802
            path = urlsplit(self.path).path
            fake.requests.append({"method": "GET", "path": path})
            if path == "/_fake/stats":
                counts = fake.creates_by_message()
                return self._reply(200, {"creates": len(fake.creates), "messages": len(counts),
                                         "duplicates": sum(n - 1 for n in counts.values() if n > 1)})
            if not self._authorised():
                return None
            prefix = f"/2010-04-01/Accounts/{fake.account_sid}/Messages/"
            if path.startswith(prefix) and path.endswith(".json"):
                msg = fake.messages.get(path[len(prefix):-5])
                if msg is None:
                    return self._error(404, 20404, "The requested resource was not found")
                return self._reply(200, _public(msg))
            return self._error(404, 20404, "The requested resource was not found")

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            path = urlsplit(self.path).path
            fake.requests.append({"method": "POST", "path": path, "form": form})
            if path == "/_fake/reset":
                fake.reset()
                return self._reply(200, {"ok": True})
            if path != f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json":
                return self._error(404, 20404, "The requested resource was not found")
            if not self._authorised():
                return None
            if fake.latency:
                time.sleep(fake.latency)
            to = form.get("To", "")
            if not to or not (form.get("From") or form.get("MessagingServiceSid")):
                return self._error(400, 21604 if not to else 21603,
                                   "A 'To' and a 'From' or 'MessagingServiceSid' are required")
            kind = fake._next_failure(to)
            if kind == "drop":
                return self._drop()
            if kind == "drop_after_create":
                fake._create(form)
                return self._drop()
            if kind == "slow":
                msg = fake._create(form)
                time.sleep(fake.slow_seconds)
                return self._reply(201, _public(msg))
            if kind in FAILURES:
                status, code, text, creates = FAILURES[kind]
                if creates:
                    fake._create(form)
                return self._error(status, code, text.format(to=to))
            return self._reply(201, _public(fake._create(form)))

    return Handler


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="A fake Twilio on 127.0.0.1 for demos and benchmarks.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--callbacks", default="", help="statuses to post back after each message, e.g. sent,delivered")
    args = parser.parse_args(argv)
    fake = FakeTwilio(args.account_sid, args.auth_token, port=args.port, latency=args.latency,
                      auto_callbacks=[s for s in args.callbacks.split(",") if s])
    print(f"FAKE_TWILIO_URL {fake.base_url}", flush=True)
    print(f"TWILIO_ACCOUNT_SID={fake.account_sid} TWILIO_AUTH_TOKEN={fake.auth_token}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake._server.serve_forever()


if __name__ == "__main__":
    main()
