"""PromptLayer-shaped routes for the official `promptlayer` SDK: translate -> service -> PromptLayer shape.

`errors` is picked up by the app for every path outside /api/v1, /ui and /-/ (PromptLayer's
error bodies and statuses); `router` holds all compat routes and is included last."""

from fastapi import APIRouter

from promptyard.web.compat import (
    errors,  # noqa: F401  (found by app._surface)
    folders,
    otlp,
    reads,
    registry,
    release_labels,
    tracking,
)

router = APIRouter(include_in_schema=False)
for _sub in (otlp.router, tracking.router, release_labels.router, registry.router, folders.router, reads.router):
    router.include_router(_sub)
