"""Run the sandbox app on a threaded WSGI server: in a background thread, or in the foreground."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.app import create_app
from sandbox.persistence import StateFile
from sandbox.world import World

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Log requests at debug level instead of one stderr line per request."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path, code)


def _make_server(host: str, port: int, world: World) -> BaseWSGIServer:
    server = make_server(host, port, create_app(world), threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True  # type: ignore[attr-defined]  # threaded=True: a ThreadingMixIn server
    return server


@dataclass
class RunningSandbox:
    """A sandbox server running in a daemon thread; stop() shuts it down."""

    url: str
    port: int
    world: World
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    state_file: StateFile | None = None  # where the world is kept across runs, if anywhere

    def stop(self) -> None:
        """Stop serving, wake any long poll, wait for the server thread, then save the world one last time."""
        from sandbox import telegram_api

        telegram_api.shutdown(self.world)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        if self.state_file is not None:
            self.state_file.stop()

    def __enter__(self) -> "RunningSandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _load_state(world: World, path: str | os.PathLike[str] | None) -> StateFile | None:
    """Restore the world from its state file (if one is given) and start saving it there."""
    if path is None:
        return None
    from sandbox import telegram_webhook

    state_file = StateFile(world, path)
    if state_file.load():
        log.info("sandbox: world restored from %s", path)
        if world.telegram.webhook is not None:
            telegram_webhook.ensure_worker(world)
    state_file.start()
    return state_file


def start_sandbox(host: str = "127.0.0.1", port: int = 0, world: World | None = None,
                  state_file: str | os.PathLike[str] | None = None) -> RunningSandbox:
    """Start the sandbox on host:port (0 picks a free port) in a daemon thread.

    With `state_file` the world is reloaded from that JSON file and kept there; without it, in memory only.
    """
    world = world or World()
    server = _make_server(host, port, world)
    state = _load_state(world, state_file)
    real_port = server.server_port
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox:{real_port}", daemon=True)
    thread.start()
    return RunningSandbox(url=f"http://{host}:{real_port}", port=real_port, world=world,
                          _server=server, _thread=thread, state_file=state)


def serve_forever(port: int = 8090, host: str = "127.0.0.1",
                  state_file: str | os.PathLike[str] | None = None) -> None:
    """Run the sandbox in the foreground until interrupted; prints the phone page URL."""
    world = World()
    server = _make_server(host, port, world)
    state = _load_state(world, state_file)
    print(f"Payfriend sandbox: phone page at http://{host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        world.stop()
        server.server_close()
        if state is not None:
            state.stop()
