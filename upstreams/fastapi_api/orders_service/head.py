"""Answer ``HEAD`` for GET-only routes (RFC 9110 section 9.3.2).

FastAPI routes declared with ``GET`` reject ``HEAD`` with 405. This middleware runs such
requests as ``GET`` and drops the response body, keeping the status and headers
(including ``Content-Length``). Routes that accept ``HEAD`` themselves (the any-method
diagnostic endpoints) are left untouched.
"""

from __future__ import annotations

from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router

    def _route_accepts(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self.router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or self._route_accepts(scope):
            await self.app(scope, receive, send)
            return

        get_scope = {**scope, "method": "GET"}
        if not self._route_accepts(get_scope):
            await self.app(scope, receive, send)  # let the router answer 404/405
            return

        finished = False

        async def send_headers_only(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.body":
                if finished:
                    return
                finished = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(get_scope, receive, send_headers_only)
