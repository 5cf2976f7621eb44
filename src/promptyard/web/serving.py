"""Run the app under uvicorn on a port bound beforehand, so that stopping is quick: long polls end at
the stop signal.

The port is bound and listening (`listen`) before the database is opened and before "serving on" is
printed: the line is true when it appears (connections wait in the backlog until the app is up), and a
busy port is known at once, before any first-run setup, as CannotListen (the CLI says which port and
how to choose another; uvicorn alone logged an errno and exited with 3).

uvicorn stops by waiting for every request in flight before it runs the lifespan's exit, so an
event set there came too late: an SDK's change-feed long poll held a SIGTERM for up to its wait
(~20 s). The stop event is set as uvicorn begins to shut down, and the long polls answer at once.
"""

from __future__ import annotations

import errno
import socket

import uvicorn
from fastapi import FastAPI

from promptyard.services import worker_processes
from promptyard.settings import Settings


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI):
        super().__init__(config)
        self.promptyard_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.promptyard_app.state.ctx.stopping.set()
        await super().shutdown(sockets)


BACKLOG = 2048  # uvicorn's default


class CannotListen(Exception):
    def __init__(self, host: str, port: int, error: OSError):
        super().__init__(f"{host}:{port}: {error.strerror or error}")
        self.host, self.port, self.reason = host, port, error.strerror or str(error)
        self.busy = error.errno == errno.EADDRINUSE


def listen(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart need not wait for TIME_WAIT
    try:
        sock.bind((settings.host, settings.port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise CannotListen(settings.host, settings.port, exc) from None
    return sock


def run(app: FastAPI, settings: Settings, sock: socket.socket) -> None:
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=False, backlog=BACKLOG)
    worker_processes.collect_less()
    _Server(config, app).run(sockets=[sock])
