"""/ui/static/<name>: the UI's own CSS and JS (no CDN, no framework), served from web/static/.

Only files that exist in that directory when the server starts can be served, so no request can
reach outside it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

from promptyard.web.ui.render import STATIC

router = APIRouter()

_FILES = {p.name: p for p in STATIC.iterdir() if p.is_file()} if STATIC.is_dir() else {}
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
          ".png": "image/png", ".ico": "image/x-icon"}


@router.get("/static/{file}", name="ui_static")
def static_file(file: str) -> FileResponse:
    path = _FILES.get(file)
    if path is None:
        raise HTTPException(404, "no such file")
    # Short cache: a server upgrade changes these files under the same name.
    return FileResponse(path, media_type=_TYPES.get(path.suffix, "application/octet-stream"),
                        headers={"Cache-Control": "public, max-age=300"})
