"""`python -m sandbox [--port N] [--state FILE]`: run the sandbox alone in the foreground."""

from __future__ import annotations

import argparse

from sandbox.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    """Parse the port and the state file, then serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (default 8090)")
    parser.add_argument("--state", metavar="FILE", default=None,
                        help="keep the world in this JSON file across runs (default: in memory only)")
    args = parser.parse_args(argv)
    serve_forever(args.port, state_file=args.state)


if __name__ == "__main__":
    main()
