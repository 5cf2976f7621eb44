"""Run the app under uvicorn so that stopping is quick: long polls end at the stop signal.

uvicorn stops by waiting for every request in flight before it runs the lifespan's exit, so an
event set there came too late: an SDK's change-feed long poll held a SIGTERM for up to its wait
(~20 s). The stop event is set as uvicorn begins to shut down, and the long polls answer at once.
"""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from promptyard.settings import Settings


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI):
        super().__init__(config)
        self.promptyard_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.promptyard_app.state.ctx.stopping.set()
        await super().shutdown(sockets)


def run(app: FastAPI, settings: Settings) -> None:
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=False)
    _Server(config, app).run()
