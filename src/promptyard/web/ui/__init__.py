"""The browser UI under /ui: server-rendered pages, forms, i18n."""

from fastapi import APIRouter

router = APIRouter(prefix="/ui", include_in_schema=False)
