"""Real local servers for the message tests: an SMTP server (aiosmtpd) and a stand-in of twilio's
REST API that the real twilio client talks to. Both can be told to fail, for fault injection."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import socket
import threading
from collections import deque
from email.message import EmailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller

from core import clock


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    """Until something listens on 127.0.0.1:port."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpInbox:
    """aiosmtpd handler: keeps every accepted message; mode "ok", "reject" (550), "tempfail" (451), "slow"."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.mode = "ok"
        self.reject_reply = "550 5.1.1 Mailbox unavailable"  # what "reject" answers (a real server's words)
        self.delay = 0.0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.mode == "reject":
            return self.reject_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode == "tempfail":
            return "451 4.3.0 Try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted"


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = SmtpInbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class TwilioStandIn:
    """POST /2010-04-01/Accounts/{sid}/Messages.json as twilio answers it; `fail` queues faults:
    ("status", 429, 20429) answers an error, ("drop",) closes the connection without an answer."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages: list[dict[str, str]] = []
        self.faults: deque[tuple[Any, ...]] = deque()
        self.requests = 0
        self.delay = 0.0
        self.lock = threading.Lock()
        self._sids = count(1)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                stand_in.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, *faults: tuple[Any, ...]) -> None:
        self.faults.extend(faults)

    def _json(self, handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        import time

        with self.lock:
            self.requests += 1
            fault = self.faults.popleft() if self.faults else None
        if self.delay:
            time.sleep(self.delay)
        length = int(handler.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        if fault and fault[0] == "drop":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if handler.headers.get("Authorization") != expected or handler.path != path:
            self._json(handler, 401, {"code": 20003, "message": "Authenticate", "status": 401})
            return
        if fault and fault[0] == "status":
            _, status, code = fault
            self._json(handler, status, {"code": code, "message": f"fault {code}", "status": status})
            return
        if form.get("To", "").startswith("+4930"):  # a landline: twilio's 21211-style refusal
            self._json(handler, 400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
            return
        sid = f"SM{next(self._sids):032d}"
        with self.lock:
            self.messages.append({**form, "sid": sid})
        self._json(
            handler,
            201,
            {
                "sid": sid,
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "date_created": format_datetime(clock.now()),
                "account_sid": self.account_sid,
            },
        )
