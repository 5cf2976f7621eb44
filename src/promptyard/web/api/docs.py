"""/api/v1/docs: Swagger UI served from this server's own files, never from a CDN.

The Swagger UI bundle and stylesheet come from the `fastapi-offline` package (a maintained copy of
swagger-ui-dist 5); the page's start-up code is our static file `web/static/api-docs.js`, not an
inline script, so the page's Content-Security-Policy allows scripts from 'self' only. The docs work
offline and no third party can change what runs on our origin.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException

router = APIRouter(include_in_schema=False)

_BUNDLE = Path(str(files("fastapi_offline") / "static"))
_OWN = Path(__file__).resolve().parents[1] / "static"
# Only these files can be served (no request can name a path outside them).
ASSETS = {"swagger-ui-bundle.js": _BUNDLE / "swagger-ui-bundle.js", "swagger-ui.css": _BUNDLE / "swagger-ui.css",
          "favicon.png": _BUNDLE / "favicon.png", "api-docs.js": _OWN / "api-docs.js"}
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png"}

# Swagger UI sets element styles from script (allowed) and shows its SVG icons as data: URLs; it
# calls the API (connect-src) on this origin only.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} API</title>
<link rel="stylesheet" href="{css}"><link rel="icon" type="image/png" href="{icon}"></head>
<body><div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{bundle}"></script><script src="{init}"></script></body></html>
"""


@router.get("/api/v1/docs", name="api_docs")
def docs_page(request: Request) -> HTMLResponse:
    asset = lambda name: str(request.url_for("api_docs_asset", file=name).path)  # noqa: E731
    page = _PAGE.format(title=html.escape(request.app.title), css=asset("swagger-ui.css"), icon=asset("favicon.png"),
                        bundle=asset("swagger-ui-bundle.js"), init=asset("api-docs.js"),
                        openapi=html.escape(request.scope.get("root_path", "") + request.app.openapi_url))
    return HTMLResponse(page, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})


@router.get("/api/v1/docs/assets/{file}", name="api_docs_asset")
def docs_asset(file: str) -> FileResponse:
    path = ASSETS.get(file)
    if path is None:
        raise HTTPException(404, "no such file")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "public, max-age=300"})
