"""aiohttp handlers of the web UI: the pages (one small single-page app) and the JSON API.

Pages: `/` components, `/component/<id>` detail, `/graph`, `/processes`, `/debug/<id>` live
debugging (the stream: collector/web/livedebug.py). All serve the same
`index.html`; `static/app.js` reads the path and draws the page from the JSON API. Everything is
served from the package (no CDN), so the UI works on a machine without internet access.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from collector.web import api
from collector.web.graph_layout import DIRECTIONS
from collector.web.svg import render

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorView
    from collector.web.observe import Observer

# the single-page UI's own routes: each serves the page, which renders the view for its path
PAGES = ("/", "/graph", "/processes", "/component/{component_id}", "/debug/{component_id}")

_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/json")


def _static_names() -> frozenset[str]:
    """The files the package ships in `static/`: the only names `/static/<name>` serves, so no
    name (`..`, a NUL byte, 5,000 characters) ever reaches the file system."""
    folder = resources.files("collector.web") / "static"
    return frozenset(entry.name for entry in folder.iterdir() if entry.is_file())


def _static(name: str) -> bytes | None:
    if name not in _static_names():
        return None
    try:
        return (resources.files("collector.web") / "static" / name).read_bytes()
    except OSError:
        return None


class UiRoutes:
    def __init__(self, supervisor: SupervisorView, observer: Observer) -> None:
        self.supervisor = supervisor
        self.observer = observer
        self.layouts = api.LayoutCache()
        self._closing = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        return [
            *(web.get(path, self.page) for path in PAGES),
            web.get("/static/{name}", self.static),
            web.get("/api/v0/web/components", self.components),
            web.get("/api/v0/web/components/{component_id}", self.component),
            web.get("/api/v0/web/graph", self.graph_stream),
            web.get("/api/v0/web/graph-layout", self.graph_layout),
            web.get("/api/v0/web/graph.svg", self.graph_svg),
            web.get("/api/v0/web/processes", self.processes),
            web.get("/api/v0/web/status", self.status),
        ]

    def close(self) -> None:
        self._closing.set()

    async def page(self, _request: web.Request) -> web.Response:
        body = _static("index.html")
        if body is None:
            raise web.HTTPInternalServerError(text="web UI files are missing from the package\n")
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        suffix = name[name.rfind("."):] if "." in name else ""
        body = _static(name) if suffix in _STATIC_TYPES and "/" not in name and not name.startswith(".") else None
        if body is None:
            raise web.HTTPNotFound(text=f"no static file {name}\n")
        return web.Response(body=body, content_type=_STATIC_TYPES[suffix], charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def components(self, _request: web.Request) -> web.Response:
        return _json(api.components(self.supervisor, self.observer))

    async def component(self, request: web.Request) -> web.Response:
        component_id = request.match_info["component_id"]
        doc = api.component_detail(self.supervisor, self.observer, component_id)
        if doc is None:
            return _json({"error": f"unknown component {component_id}"}, status=404)
        return _json(doc)

    def _graph(self, request: web.Request) -> dict[str, Any]:
        direction = request.query.get("direction", "LR").upper()
        if direction not in DIRECTIONS:
            raise web.HTTPBadRequest(text=f"invalid direction {direction!r}: expected LR or TB\n")
        try:
            return api.graph(self.supervisor, self.observer, self.layouts, direction)
        except ImportError as err:
            raise web.HTTPInternalServerError(
                text=f"the graph layout needs the Python package grandalf ({err}); run make install\n") from err

    async def graph_layout(self, request: web.Request) -> web.Response:
        return _json(self._graph(request))

    async def graph_svg(self, request: web.Request) -> web.Response:
        doc = self._graph(request)
        return web.Response(text=render(doc), content_type="image/svg+xml", headers={"Cache-Control": "no-cache"})

    async def graph_stream(self, request: web.Request) -> web.StreamResponse:
        """Alloy's live graph stream: every `window` seconds a JSON array, then the `|;|` delimiter."""
        raw = request.query.get("window", "5")
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 60:  # "²".isdigit() is True
            return web.Response(status=400, text="Invalid window: must be an integer between 1 and 60")
        window = int(raw)
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
        await response.prepare(request)
        try:
            while not self._closing.is_set():
                await response.write(orjson.dumps(api.live_flows(self.supervisor, self.observer)) + b"|;|")
                try:
                    await asyncio.wait_for(self._closing.wait(), timeout=window)
                except asyncio.TimeoutError:
                    pass
        except ConnectionResetError:  # the page went away
            pass
        return response

    async def processes(self, _request: web.Request) -> web.Response:
        return _json(api.processes(self.supervisor, self.observer))

    async def status(self, _request: web.Request) -> web.Response:
        return _json(api.status(self.supervisor))
