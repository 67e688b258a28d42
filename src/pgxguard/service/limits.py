"""Request size limits as pure ASGI middleware: 413 with a JSON message.

Multipart requests (uploads) may carry `max_upload_bytes` plus a little form overhead; every other
body at most `max_json_bytes`. Content-Length is checked first; bodies without one (chunked) are
counted as they stream, and whatever response the app would have sent is replaced by the 413.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MULTIPART_OVERHEAD = 64 * 1024


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_upload_bytes: int, max_json_bytes: int) -> None:
        self.app = app
        self.max_upload = max_upload_bytes
        self.max_json = max_json_bytes

    def limit_for(self, content_type: str) -> tuple[int, str]:
        if content_type.lower().startswith("multipart/"):
            return self.max_upload + MULTIPART_OVERHEAD, (
                f"upload exceeds the limit of {self.max_upload} bytes")
        return self.max_json, f"request body exceeds the limit of {self.max_json} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        limit, message = self.limit_for(headers.get(b"content-type", b"").decode("latin-1"))
        length = headers.get(b"content-length", b"").decode("latin-1").strip()
        if length.isascii() and length.isdigit() and int(length) > limit:
            await _send_413(send, message)
            return
        state = {"received": 0, "exceeded": False, "started": False, "replaced": False}

        async def limited_receive() -> Message:
            msg = await receive()
            if msg["type"] == "http.request":
                state["received"] += len(msg.get("body", b""))
                if state["received"] > limit:
                    state["exceeded"] = True
                    raise _TooLarge(message)
            return msg

        async def guarded_send(msg: Message) -> None:
            if state["exceeded"]:
                if msg["type"] == "http.response.start" and not state["replaced"]:
                    state["replaced"] = True
                    await _send_413(send, message)
                return
            if msg["type"] == "http.response.start":
                state["started"] = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not state["exceeded"]:
                raise
        if state["exceeded"] and not state["replaced"] and not state["started"]:
            await _send_413(send, message)


async def _send_413(send: Send, message: str) -> None:
    body = json.dumps({"error": message, "hint": "split the upload or ask the operator to "
                       "raise PGXGUARD_MAX_UPLOAD_BYTES / PGXGUARD_MAX_JSON_BYTES"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["BodySizeLimit"]
