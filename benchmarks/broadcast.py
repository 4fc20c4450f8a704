"""Campaign invitations: sustained rate against the configured one, duplicates, misses, and how long a
sender killed with SIGKILL takes to send again once restarted.

Real `youthvoice campaign send ID --wait` processes send to an HTTP double of the Bot API that
records every message (tests/support/bot_api_double.py): 10,000 participants on SQLite with one
sender, then on PostgreSQL with two senders at once sharing the one rate.

    .venv/bin/python benchmarks/broadcast.py [--people 10000] [--rate 25] [--kills 5]
                                             [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.campaigns import publish  # noqa: E402
from bot.engine.loader import load_survey  # noqa: E402
from tests.support.bot_api_double import BotApiDouble  # noqa: E402
from tests.support.deployment import campaign_text, seed_participants, write_deployment  # noqa: E402
from tests.support.postgres import temporary_postgres  # noqa: E402


def prepare(folder: Path, database: str, people: int, rate: float) -> Path:
    # No quiet hours: the benchmark runs whatever the time of day.
    config = write_deployment(folder, rate=rate, quiet=("00:00", "00:00"), seeds=False)
    app = build_app(config, database)
    try:
        chats = seed_participants(app.sessions, people)
        assert len(chats) == people
        text = campaign_text()
        with app.sessions.begin() as session:
            publish(session, app.config, load_survey(text, "c.yml", app.config.community()), text,
                    "maison-des-jeunes", app.service.clock())
    finally:
        app.close()
    return config


def sender(config: Path, database: str, double: BotApiDouble) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TELEGRAM_API_URL": double.url, "TELEGRAM_BOT_TOKEN": double.token}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "--database", database,
         "campaign", "send", "quartier", "--wait"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sustained(times: list[float]) -> tuple[float, float]:
    """Messages per second over the whole run, and the median of the full seconds in between."""
    start = times[0]
    per_second = Counter(int(t - start) for t in times)
    full = [per_second[s] for s in range(1, max(per_second))]  # the first and last are partial
    overall = (len(times) - 1) / (times[-1] - times[0])
    return overall, statistics.median(full) if full else overall


def throughput(label: str, database: str, people: int, rate: float, workers: int) -> None:
    with tempfile.TemporaryDirectory() as folder, BotApiDouble() as double:
        config = prepare(Path(folder), database, people, rate)
        processes = [sender(config, database, double) for _ in range(workers)]
        for process in processes:
            process.wait()
        sent = double.sent()
    invited = Counter(m.chat_id for m in sent)
    duplicates = sum(n - 1 for n in invited.values() if n > 1)
    missed = people - len(invited)
    times = sorted(m.at for m in sent)
    overall, median = sustained(times)
    busiest = max(Counter(int(t - times[0]) for t in times).values())
    print(f"{label}: {len(sent)} invitations to {people} participants, {workers} sender(s), "
          f"rate {rate:g}/s configured")
    print(f"  sustained {overall:.2f}/s over {times[-1] - times[0]:.0f} s "
          f"({100 * overall / rate:.1f}% of the rate); median full second {median:.0f}/s; "
          f"busiest second {busiest}")
    print(f"  duplicates {duplicates}, missed {missed}")


def kill_to_send(label: str, database: str, people: int, rate: float, kills: int) -> None:
    """SIGKILL the sender while it sends, restart it at once: time until the next invitation."""
    gaps: list[float] = []
    with tempfile.TemporaryDirectory() as folder, BotApiDouble() as double:
        config = prepare(Path(folder), database, people, rate)
        process = sender(config, database, double)
        step = people // (kills + 2)
        for kill in range(1, kills + 1):
            while len(double.sent()) < kill * step:
                time.sleep(0.01)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            killed_at = time.time()
            before = len(double.sent())
            process = sender(config, database, double)
            while len(double.sent()) == before:
                time.sleep(0.005)
            gaps.append(double.sent()[before].at - killed_at)
        process.wait()
        sent = double.sent()
    invited = Counter(m.chat_id for m in sent)
    print(f"{label}: {kills} kills with SIGKILL while sending, restarted at once")
    print(f"  kill -> next invitation: median {statistics.median(gaps):.2f} s, "
          f"max {max(gaps):.2f} s ({', '.join(f'{g:.2f}' for g in gaps)})")
    print(f"  duplicates {sum(n - 1 for n in invited.values() if n > 1)}, "
          f"missed {people - len(invited)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.backend in ("sqlite", "both"):
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            throughput("SQLite", f"sqlite:///{folder / 'throughput.db'}", args.people, args.rate, 1)
            kill_to_send("SQLite", f"sqlite:///{folder / 'kills.db'}", 2_000, 200, args.kills)
        if args.backend in ("postgresql", "both"):
            url = stack.enter_context(temporary_postgres())
            throughput("PostgreSQL", url, args.people, args.rate, 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
