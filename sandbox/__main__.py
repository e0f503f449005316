"""`python -m sandbox [--port N]`: run the sandbox alone in the foreground."""

from __future__ import annotations

import argparse

from sandbox.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    """Parse the port and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (default 8090)")
    serve_forever(parser.parse_args(argv).port)


if __name__ == "__main__":
    main()
