"""Run the sandbox app on a threaded WSGI server: in a background thread, or in the foreground."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.app import create_app
from sandbox.world import World

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Log requests at debug level instead of one stderr line per request."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path, code)


def _make_server(host: str, port: int, world: World) -> BaseWSGIServer:
    server = make_server(host, port, create_app(world), threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True
    return server


@dataclass
class RunningSandbox:
    """A sandbox server running in a daemon thread; stop() shuts it down."""

    url: str
    port: int
    world: World
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        """Stop serving, wake any long poll, and wait for the server thread."""
        from sandbox import telegram_api

        telegram_api.shutdown(self.world)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> "RunningSandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(host: str = "127.0.0.1", port: int = 0, world: World | None = None) -> RunningSandbox:
    """Start the sandbox on host:port (0 picks a free port) in a daemon thread."""
    world = world or World()
    server = _make_server(host, port, world)
    real_port = server.server_port
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox:{real_port}", daemon=True)
    thread.start()
    return RunningSandbox(url=f"http://{host}:{real_port}", port=real_port, world=world,
                          _server=server, _thread=thread)


def serve_forever(port: int = 8090, host: str = "127.0.0.1") -> None:
    """Run the sandbox in the foreground until interrupted; prints the phone page URL."""
    world = World()
    server = _make_server(host, port, world)
    print(f"Payfriend sandbox: phone page at http://{host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        world.stop()
        server.server_close()
