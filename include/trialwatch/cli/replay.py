"""``trialwatch replay``: serve the local replay registry (ClinicalTrials.gov API v2 from recorded data)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from trialwatch.cli._common import CommandError, UsageError, add_command


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "replay",
        help="serve the local replay registry over HTTP",
        description="Serve the recorded registry data over HTTP until Ctrl-C. Switch days with\n"
        "POST /_replay/day/N.",
        example="trialwatch replay --port 8765 --day 1\ncurl -X POST http://127.0.0.1:8765/_replay/day/2",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind (default 8765, 0 = any free)")
    parser.add_argument("--day", type=int, default=1, help="replay day to serve first (default 1)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="replay data directory (default: bundled)"
    )
    parser.set_defaults(run=run, log_level=logging.INFO)


def run(args: argparse.Namespace) -> int:
    import threading

    from trialwatch.replay.server import serve

    try:
        server = serve(host=args.host, port=args.port, day=args.day, data_dir=args.data_dir)
    except ValueError as exc:
        raise UsageError(f"replay: {exc}") from exc
    except OSError as exc:
        raise CommandError(f"replay: cannot serve on {args.host}:{args.port}: {exc}") from exc
    print(f"replay registry serving day {server.day} at {server.base_url}", flush=True)
    print(f"switch days with: curl -X POST {server.root_url}/_replay/day/2", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
