"""A streamed file download that fails as an ordinary error answer when it cannot start, and as
a failed download when it cannot finish.

After the 200 and the first chunks went out, an error (the database went away, a disk error)
can no longer become an error answer. Ending the stream normally would send the final empty
chunk, and the client would keep a short file that looks complete. Instead the error is logged
(its class and the request id only: the SQL and its parameters may hold request content) and a
short exception is raised, on which uvicorn drops the connection without that final chunk: the
client sees an incomplete chunked read (httpx: RemoteProtocolError), browsers a failed download.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Any, Callable, Iterator

from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from promptyard.web import request_ids

log = logging.getLogger("promptyard.downloads")


class DownloadAborted(Exception):
    """Raised to the server mid-stream so that it cuts the connection (see the module's doc)."""


def download(session: Callable[[], AbstractContextManager[Session]], chunks: Callable[[Session], Iterator[str]],
             *, media_type: str, filename: str) -> StreamingResponse:
    """Open a read session and `chunks(session)` now, so that bad input or missing rights raise
    here (a 4xx answer) rather than after the 200 has been sent; the session then lives as long
    as the stream."""
    def stream() -> Iterator[str]:
        with session() as s:
            parts = chunks(s)
            yield ""  # reached at once below: chunks() has run its checks
            yield from parts

    body = stream()
    next(body)
    return _Download(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


class _Download(StreamingResponse):
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        self.body_iterator = _guarded(self.body_iterator, request_ids.request_id(), scope.get("path", ""))
        await super().__call__(scope, receive, send)


async def _guarded(parts: Any, request_id: str, path: str) -> Any:
    sent = 0
    try:
        async for part in parts:
            sent += len(part)
            yield part
    except Exception as exc:  # noqa: BLE001 - every failure mid-stream must cut the download
        log.error("export aborted after %d characters on %s: %s (request id %s)", sent, path,
                  exc.__class__.__name__, request_id)
        raise DownloadAborted(f"{exc.__class__.__name__} (request id {request_id})") from None
