"""Command line: ``python -m airflow_provider_conversations.testing serve [options]``.

Prints ``READY <url>`` on stdout once the fake is listening, then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from types import FrameType

from .budget import WINDOW_RULES
from .records import NON_ASCII_SHARE, generate_conversations, parse_timestamp
from .server import FakeConversationsAPI, Faults


def _date(value: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the CLI."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_conversations.testing",
        description="Local fake of the Conversations API (GET /v2/conversations, /v2/transcriptions).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the fake API until SIGINT/SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8089, help="port, 0 for a free one (default: %(default)s)")
    serve.add_argument("--records", type=int, default=5000, help="records to generate (default: %(default)s)")
    serve.add_argument("--seed", type=int, default=0, help="seed of data and faults (default: %(default)s)")
    serve.add_argument("--token", default="test-token", help="accepted bearer token (default: %(default)s)")
    serve.add_argument(
        "--start",
        type=_date,
        default=datetime(2025, 1, 1, tzinfo=timezone.utc),
        help="start of created_at, ISO date or timestamp, UTC (default: 2025-01-01)",
    )
    serve.add_argument("--days", type=float, default=7.0, help="days of created_at (default: %(default)s)")
    serve.add_argument(
        "--tie-share",
        type=float,
        default=0.05,
        help="share of records whose created_at equals another record's (default: %(default)s)",
    )
    serve.add_argument("--rate-limit", type=int, default=600, help="cost budget per window (default: %(default)s)")
    serve.add_argument(
        "--minute-seconds",
        type=float,
        default=60.0,
        help="rate-limit window in seconds (default: %(default)s)",
    )
    serve.add_argument(
        "--window-rule",
        choices=WINDOW_RULES,
        default="calendar",
        help="where rate-limit windows start (default: %(default)s)",
    )
    serve.add_argument(
        "--title-chars", type=int, default=0, help="lengthen titles to this many characters (default: as drawn)"
    )
    serve.add_argument(
        "--non-ascii-share",
        type=float,
        default=NON_ASCII_SHARE,
        help="share of titles with non-ASCII text, 0 for ASCII only (default: %(default)s)",
    )
    serve.add_argument("--gzip", action="store_true", help="gzip answers to requests that accept it")
    serve.add_argument("--chunked", action="store_true", help="send answers with Transfer-Encoding: chunked")
    serve.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every answer (default: %(default)s)"
    )
    serve.add_argument("--no-retry-after", action="store_true", help="send no Retry-After on 429, like the real API")
    serve.add_argument("--strict-params", action="store_true", help="answer 400 on unknown parameter names")
    serve.add_argument(
        "--no-transcriptions", action="store_true", help="serve no transcriptions (faster start with many records)"
    )
    serve.add_argument("--error-rate", type=float, default=0.0, help="share of injected 5xx answers")
    serve.add_argument("--throttle-rate", type=float, default=0.0, help="share of injected 429 answers")
    serve.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI.

    :param argv: arguments without the program name (default: ``sys.argv[1:]``).
    :return: the exit status.
    """
    args = build_parser().parse_args(argv)
    start: datetime = args.start
    records = generate_conversations(
        args.records,
        seed=args.seed,
        start=start,
        end=start + timedelta(days=args.days),
        tie_share=args.tie_share,
        title_chars=args.title_chars,
        non_ascii_share=args.non_ascii_share,
    )
    api = FakeConversationsAPI(
        records,
        token=args.token,
        host=args.host,
        port=args.port,
        seed=args.seed,
        rate_limit_per_minute=args.rate_limit,
        minute_seconds=args.minute_seconds,
        window_rule=args.window_rule,
        gzip=args.gzip,
        chunked=args.chunked,
        latency=args.latency,
        retry_after=not args.no_retry_after,
        strict_params=args.strict_params,
        faults=Faults(error_rate=args.error_rate, throttle_rate=args.throttle_rate),
        verbose=args.verbose,
        transcriptions=not args.no_transcriptions,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    api.start()
    try:
        print(f"READY {api.url}", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        api.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
