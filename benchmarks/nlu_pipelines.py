"""Two NLU pipelines side by side: held-out scores, parse latency and the server's memory.

Run from the repository root (each pipeline is trained once, then cached like the bot's model):

    .venv/bin/python -m benchmarks.nlu_pipelines
    .venv/bin/python -m benchmarks.nlu_pipelines --pipeline nlu/config.yml   # just one

Pipelines: nlu/config.yml (what the bot serves: DIET, on TensorFlow) and
benchmarks/pipelines/logistic-regression.yml (the same features into scikit-learn's logistic
regression, no TensorFlow). For each, one server is started on loopback and asked, one message at
a time: the whole held-out set (nlu/tests) for the scores, then --messages parses through
NluClient alternating with bare httpx POSTs for the latency. The server's resident memory is read
after all of that, when the model has been used.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.nlu_parse import Latency, measure
from nlu.client import SyncNluClient
from nlu.evaluation import Report, evaluate, format_summary, load_examples
from nlu.server import RasaSupervisor, rss_bytes
from nlu.training import NluProject, train
from nlu.venv import RasaEnv, ensure_rasa_env

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = (ROOT / "nlu" / "config.yml", ROOT / "benchmarks" / "pipelines" / "logistic-regression.yml")
START_TIMEOUT = 240.0


@dataclass(frozen=True)
class PipelineResult:
    name: str
    report: Report
    latencies: tuple[Latency, Latency]
    rss_mib: float | None
    start_s: float | None
    train_s: float | None
    model_mib: float


def project_for(config: Path) -> NluProject:
    """The bot's project for its own config; a separate build and model folder for any other."""
    project = NluProject.at(ROOT)
    if config.resolve() == project.config:
        return project
    return replace(project, config=config.resolve(), var=ROOT / "var" / "nlu-pipelines" / config.stem)


def run(config: Path, env: RasaEnv, messages: int) -> PipelineResult:
    project = project_for(config)
    trained = train(project, env)
    supervisor = RasaSupervisor(
        env, trained.model, log_path=project.logs / "rasa-server.log", cwd=project.var
    )
    supervisor.start(wait=False)
    try:
        if not supervisor.wait_ready(START_TIMEOUT):
            raise SystemExit(f"{config}: the server did not start; see {project.logs}")
        examples = load_examples(project.tests)
        with SyncNluClient(supervisor.url, timeout=10.0, cooldown=0.0) as client:
            report = evaluate(examples, client.parse)
        texts = list(itertools.islice(itertools.cycle([e.text for e in examples]), messages))
        client_times, raw_times, _ = asyncio.run(measure(supervisor.url, texts, 2.0))
        rss = rss_bytes(supervisor.pid or 0)
        start = supervisor.last_start_seconds
    finally:
        supervisor.stop()
    return PipelineResult(
        name=config.relative_to(ROOT).as_posix(),
        report=report,
        latencies=(Latency.of("NluClient.parse", client_times), Latency.of("raw httpx POST", raw_times)),
        rss_mib=None if rss is None else rss / 2**20,
        start_s=start,
        train_s=trained.seconds if trained.trained else None,
        model_mib=trained.model.stat().st_size / 2**20,
    )


def print_result(result: PipelineResult) -> None:
    print(f"== {result.name}")
    print(format_summary(result.report))
    print(f"  {'parse latency (ms)':<18} {'median':>8} {'p95':>8} {'mean':>8} {'max':>8}")
    for row in result.latencies:
        print(
            f"  {row.name:<18} {row.median_ms:>8.2f} {row.p95_ms:>8.2f} "
            f"{row.mean_ms:>8.2f} {row.max_ms:>8.2f}"
        )
    rss = "unknown" if result.rss_mib is None else f"{result.rss_mib:.0f} MiB"
    start = "unknown" if result.start_s is None else f"{result.start_s:.1f} s"
    trained = "cached" if result.train_s is None else f"{result.train_s:.0f} s"
    print(
        f"  server RSS after use: {rss}; start to model loaded: {start}; "
        f"training: {trained}; model archive: {result.model_mib:.1f} MiB"
    )
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pipeline", type=Path, action="append", help="a Rasa config file (default: both)"
    )
    parser.add_argument("--messages", type=int, default=300, help="parses timed (default: %(default)s)")
    args = parser.parse_args(argv)
    configs = [path.resolve() for path in args.pipeline] if args.pipeline else list(PIPELINES)
    env = RasaEnv(ensure_rasa_env(ROOT))
    started = time.monotonic()
    for config in configs:
        print_result(run(config, env, args.messages))
    print(f"({time.monotonic() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
