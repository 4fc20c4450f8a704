"""One conversation turn through the service (dedupe, load state, step, save, answers, queued reply),
per backend.

Each measured turn is a button press: alternately an answer ("On foot", stored) and "Back" (state
only), by several participants in turn, each with a fresh message key, as Telegram would deliver them.

    .venv/bin/python benchmarks/turn.py [--turns 2000] [--backend sqlite|postgresql|both]

How a delivered reply is removed (``--removal``, default ``folded``; ``all`` compares them):
``round``: left for the background round (one commit a second for all, not counted here);
``folded``: with the next turn's own statement that replaces its chat's older reply (as the bot
does); ``own``: a commit of its own right after each delivery.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.channels.collecting import CollectingChannel  # noqa: E402
from bot.engine.messages import Inbound  # noqa: E402
from tests.support.postgres import temporary_postgres  # noqa: E402

PARTICIPANTS = 20
PRESSED = {"pressed": 1, "pressed_text": "How do you usually get around?"}


REMOVALS = ("round", "folded", "own")


def measure(url: str, turns: int, removal: str = "folded") -> dict[str, float]:
    app = build_app(ROOT / "config.yml", url)
    try:
        channel = CollectingChannel(app.service)
        users = [f"bench-{i}" for i in range(PARTICIPANTS)]
        for user in users:
            channel.say(user, "/start", "en")
            for label in ("18-20", "Yes, I agree", "Lyon", "Vaise"):
                channel.press(user, label, "en")
        answer = channel.choice(users[0], "On foot").data
        back = "q:my-city:transport_problem:~back"
        answer_times: list[float] = []
        back_times: list[float] = []
        cpu_times: list[float] = []
        started = time.perf_counter()
        for i in range(turns):
            user = users[i % PARTICIPANTS]
            is_answer = (i // PARTICIPANTS) % 2 == 0
            inbound = Inbound.button(answer if is_answer else back, app.service.clock())
            before = time.perf_counter()
            cpu_before = time.process_time()
            # As the Telegram channel calls it: the reply is queued until delivered.
            turn = app.service.handle("bench", user, inbound, message_key=f"{user}:{i}",
                                      interface_language="en", keep_reply=PRESSED)
            if turn.reply is not None and removal != "round":
                # Delivered at once (no network here).
                app.service.outbox.delivered(turn.reply.id)
                if removal == "own":
                    app.service.outbox.flush()
            cpu_times.append((time.process_time() - cpu_before) * 1000)
            elapsed = (time.perf_counter() - before) * 1000
            assert turn.outbound and not turn.duplicate
            (answer_times if is_answer else back_times).append(elapsed)
        total = time.perf_counter() - started
    finally:
        app.close()
    everything = answer_times + back_times
    return {
        "answer_median_ms": statistics.median(answer_times),
        "answer_p95_ms": percentile(answer_times, 95),
        "all_median_ms": statistics.median(everything),
        "all_p95_ms": percentile(everything, 95),
        "turns_per_s": turns / total,
        "cpu_median_ms": statistics.median(cpu_times),
    }


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--removal", choices=[*REMOVALS, "all"], default="folded")
    args = parser.parse_args()
    removals = REMOVALS if args.removal == "all" else (args.removal,)
    print(f"{args.turns} button turns, {PARTICIPANTS} participants, one process, one thread")
    print(f"{'backend':<12}{'removal':<9}{'answer median':>15}{'answer p95':>12}{'all median':>12}"
          f"{'all p95':>10}{'turns/s':>10}{'CPU/turn':>10}")
    with ExitStack() as stack:
        backends: list[tuple[str, str]] = []
        if args.backend in ("sqlite", "both"):
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            backends.append(("sqlite", f"sqlite:///{folder}/bench.db"))
        if args.backend in ("postgresql", "both"):
            backends.append(("postgresql", stack.enter_context(temporary_postgres())))
        for name, url in backends:
            for removal in removals:
                if name == "postgresql" and removal != removals[0]:
                    from tests.support.postgres import reset_schema
                    reset_schema(url)
                elif name == "sqlite":
                    Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
                r = measure(url, args.turns, removal)
                print(f"{name:<12}{removal:<9}{r['answer_median_ms']:>12.2f} ms"
                      f"{r['answer_p95_ms']:>9.2f} ms"
                      f"{r['all_median_ms']:>9.2f} ms{r['all_p95_ms']:>7.2f} ms{r['turns_per_s']:>10.0f}"
                      f"{r['cpu_median_ms']:>7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
