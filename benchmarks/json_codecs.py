"""JSON decoding and encoding per 100-record page: the standard library against msgspec (when installed).

Decodes one page body as the hook does (``json.loads``) and encodes its records one JSONL line at a
time as the writer does (``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``); prints
microseconds per page for each library. Pure CPU, no I/O.

    .venv/bin/python benchmarks/json_codecs.py
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any


def per_page(label: str, fn: Callable[[], Any], n: int = 2000) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    seconds = (time.perf_counter() - t0) / n
    print(f"{label:40} {seconds * 1e6:8.1f} us per 100-record page", flush=True)
    return seconds


def main() -> int:
    from airflow_provider_conversations.testing import generate_conversations

    records = generate_conversations(100, seed=1)
    body = json.dumps({"metadata": {"paging": {}}, "data": records}, ensure_ascii=False).encode()
    loads = per_page("json.loads (page)", lambda: json.loads(body))
    dumps = per_page(
        "json.dumps (100 JSONL lines)",
        lambda: [json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() for r in records],
    )
    try:
        import msgspec
    except ImportError:
        print("msgspec is not installed")
        return 0
    decoder, encoder = msgspec.json.Decoder(), msgspec.json.Encoder()
    decode = per_page("msgspec.json.Decoder.decode (page)", lambda: decoder.decode(body))
    encode = per_page("msgspec.json.Encoder.encode (100 lines)", lambda: [encoder.encode(r) for r in records])
    same = all(encoder.encode(r) == json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() for r in records)
    print(f"saved per page: {(loads - decode) * 1e6:.0f} us decoding, {(dumps - encode) * 1e6:.0f} us encoding")
    print(f"msgspec's JSONL bytes equal the standard library's for these records: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
