"""The browser UI under /ui: server-rendered pages (Jinja2, autoescaped), forms, i18n.

Modules by what they hold: pages (rendering, sessions, roles, CSRF - read its docstring first),
catalogue (i18n), errors (the UI's error page), assets (static files), auth_pages, prompt_pages,
editor_pages, label_pages, admin_pages (API keys), member_pages, experiment_pages, request_pages.
"""

from fastapi import APIRouter, Depends

from promptyard.web.ui import (admin_pages, assets, auth_pages, errors, experiment_pages,  # noqa: F401
                               editor_pages, label_pages, member_pages, pages, prompt_pages, request_pages)

# bind_request runs first on every UI route, so even a failing page knows its language.
router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(pages.bind_request)])
for _module in (assets, auth_pages, prompt_pages, editor_pages, label_pages, admin_pages, member_pages,
                experiment_pages, request_pages):
    router.include_router(_module.router)
