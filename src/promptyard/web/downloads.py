"""A streamed file download that fails as an ordinary error answer when it cannot start."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Callable, Iterator

from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session


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
    return StreamingResponse(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})
