"""``trialwatch mailsink``: a local SMTP server that saves every message it receives as a file."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from trialwatch.cli._common import CommandError, add_command


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "mailsink",
        help="run a local SMTP server that saves messages as files",
        description="Accept mail on 127.0.0.1 (no TLS: local use only) and save each message as\n"
        "an .eml file, until Ctrl-C.",
        example="trialwatch mailsink --port 1025 --dir .trialwatch/mail",
    )
    parser.add_argument("--port", type=int, default=1025, help="port to listen on (default %(default)s)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(".trialwatch/mail"),
        help="where messages are saved (default %(default)s)",
    )
    parser.set_defaults(run=run, log_level=logging.INFO)


def run(args: argparse.Namespace) -> int:
    import time

    from trialwatch.mailsink import MailSink

    try:
        sink = MailSink(args.dir, port=args.port)
        sink.__enter__()
    except OSError as exc:
        raise CommandError(
            f"mailsink: cannot listen on port {args.port} or write to {args.dir}: {exc}"
        ) from exc
    try:
        print(
            f"mail sink listening on {sink.host}:{sink.port}, saving to {args.dir} (Ctrl-C stops)", flush=True
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        sink.__exit__()
