"""Parse latency through NluClient against a running Rasa server, next to raw httpx, and its RSS.

Run from the repository root:

    .venv/bin/python -m benchmarks.nlu_parse                  # starts a server (cached model)
    .venv/bin/python -m benchmarks.nlu_parse --url http://127.0.0.1:5005 --pid 1234

The messages are the held-out examples in nlu/tests (both languages), cycled to --messages. Each
message is sent once through NluClient.parse and once as a bare httpx POST, alternately, one at a
time, after a warm-up; the difference is what the client's conversion and bookkeeping cost.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from nlu.client import NluClient
from nlu.evaluation import load_examples
from nlu.runtime import RASA_URL_ENV, NluService, supervise
from nlu.server import rss_bytes

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 20


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Latency:
    name: str
    median_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float

    @classmethod
    def of(cls, name: str, seconds: Sequence[float]) -> Latency:
        ms = [s * 1000 for s in seconds]
        return cls(name, statistics.median(ms), percentile(ms, 0.95), statistics.fmean(ms), max(ms))


async def measure(url: str, messages: Sequence[str], timeout: float) -> tuple[list[float], list[float], int]:
    client_times: list[float] = []
    raw_times: list[float] = []
    misses = 0
    async with (
        NluClient(url, timeout=timeout, cooldown=0.0) as client,
        httpx.AsyncClient(base_url=url, timeout=timeout, trust_env=False) as raw,
    ):
        for text in messages[:WARM_UP]:
            await client.parse(text)
        for text in messages:
            started = time.perf_counter()
            understanding = await client.parse(text)
            client_times.append(time.perf_counter() - started)
            misses += understanding is None
            started = time.perf_counter()
            response = await raw.post("/model/parse", json={"text": text})
            response.json()
            raw_times.append(time.perf_counter() - started)
    return client_times, raw_times, misses


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help=f"a running server (default: ${RASA_URL_ENV}, else start one)")
    parser.add_argument("--pid", type=int, help="the server's pid, for its RSS, with --url")
    parser.add_argument("--messages", type=int, default=300, help="default: %(default)s")
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="per parse, seconds (default: %(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    texts = [example.text for example in load_examples(ROOT / "nlu" / "tests")]
    messages = list(itertools.islice(itertools.cycle(texts), args.messages))
    url = args.url or os.environ.get(RASA_URL_ENV, "").strip()
    service: NluService | None = None
    if not url:
        print("Starting a Rasa server (cached model)...", file=sys.stderr, flush=True)
        service = supervise(ROOT)
        url = service.url
    try:
        client_times, raw_times, misses = asyncio.run(measure(url.rstrip("/"), messages, args.timeout))
        supervisor = service.supervisor if service is not None else None
        pid = supervisor.pid if supervisor is not None else args.pid
        rss = rss_bytes(pid) if pid is not None else None
        start = supervisor.last_start_seconds if supervisor is not None else None
    finally:
        if service is not None:
            service.close()

    latencies = [Latency.of("NluClient.parse", client_times), Latency.of("raw httpx POST", raw_times)]
    if args.json:
        results = {
            "messages": len(messages),
            "unanswered": misses,
            "latency": [asdict(latency) for latency in latencies],
            "server_rss_mib": None if rss is None else rss / 2**20,
            "server_start_s": start,
        }
        print(json.dumps(results, indent=2))
        return 0
    print(f"{len(messages)} messages, one at a time ({misses} unanswered)")
    print(f"  {'':<18} {'median':>8} {'p95':>8} {'mean':>8} {'max':>8}   (ms)")
    for row in latencies:
        print(
            f"  {row.name:<18} {row.median_ms:>8.2f} {row.p95_ms:>8.2f} "
            f"{row.mean_ms:>8.2f} {row.max_ms:>8.2f}"
        )
    if rss is not None:
        print(f"Rasa server RSS: {rss / 2**20:.0f} MiB")
    if start is not None:
        print(f"Rasa server start (process to model loaded): {start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
