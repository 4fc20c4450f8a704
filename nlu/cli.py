"""`youthvoice nlu train|serve|parse|eval`: the NLU's command line, mounted by the main CLI.

Each subcommand sets `handler`, a function taking the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from nlu.client import SyncNluClient
from nlu.evaluation import EvaluationError, evaluate, format_report, load_examples, report_dict
from nlu.lookups import LookupConfigError
from nlu.runtime import RASA_URL_ENV, prepare_model, supervise
from nlu.server import DEFAULT_PORT, RasaServerError, rss_bytes
from nlu.training import NluProject, TrainingError
from nlu.venv import RasaEnvError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
Handler = Callable[[argparse.Namespace], int]
_USER_ERRORS = (RasaEnvError, TrainingError, LookupConfigError, RasaServerError, EvaluationError)


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add the `nlu` command and its subcommands to the main CLI; return them for the bot's own."""
    nlu = subparsers.add_parser("nlu", help="train, serve, try and evaluate the Rasa NLU")
    nlu.add_argument(
        "--root",
        type=Path,
        default=PROJECT_ROOT,
        help="project folder holding config.yml, nlu/ and var/ (default: %(default)s)",
    )
    commands = nlu.add_subparsers(dest="nlu_command", required=True, metavar="COMMAND")

    train_cmd = commands.add_parser("train", help="train the model unless one exists for the current data")
    train_cmd.set_defaults(handler=reporting_errors(_train))

    serve_cmd = commands.add_parser("serve", help="run the Rasa server on 127.0.0.1, restarting it on crash")
    serve_cmd.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    serve_cmd.set_defaults(handler=reporting_errors(_serve))

    parse_cmd = commands.add_parser("parse", help="show what the NLU understands of a message")
    parse_cmd.add_argument("text", help='the message, e.g. "j\'habite à la Guillotière"')
    add_server_options(parse_cmd)
    parse_cmd.add_argument("--json", action="store_true", help="print the result as JSON")
    parse_cmd.set_defaults(handler=reporting_errors(_parse))

    eval_cmd = commands.add_parser("eval", help="precision, recall and F1 per intent on the held-out set")
    add_server_options(eval_cmd)
    eval_cmd.add_argument(
        "--tests", type=Path, help="folder of held-out Rasa NLU YAML files (default: ROOT/nlu/tests)"
    )
    eval_cmd.add_argument(
        "--min-f1",
        type=float,
        default=0.0,
        help="exit with code 1 when the overall macro-F1 is below this (default: %(default)s)",
    )
    eval_cmd.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    eval_cmd.set_defaults(handler=reporting_errors(_eval))
    return commands


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        help=f"a running Rasa server (default: ${RASA_URL_ENV}; without either, one is started)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per parse (default: %(default)s)")


def reporting_errors(handler: Handler) -> Handler:
    """Failures a user can act on become one line on stderr and exit code 2, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except _USER_ERRORS as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return run


def _train(args: argparse.Namespace) -> int:
    _, _, result = prepare_model(args.root)
    if result.trained:
        print(f"Trained {result.model} in {result.seconds:.0f} s")
    elif result.from_shared_cache:
        print(f"Up to date (from the shared model cache): {result.model}")
    else:
        print(f"Up to date: {result.model}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        with supervise(args.root, port=args.port) as service:
            supervisor = service.supervisor
            assert supervisor is not None
            rss = rss_bytes(supervisor.pid or 0)
            print(
                f"Rasa NLU on {service.url} (model {supervisor.model.name}, pid {supervisor.pid}, "
                f"ready in {supervisor.last_start_seconds or 0:.0f} s, "
                f"RSS {(rss or 0) / 2**30:.2f} GiB). Ctrl-C stops it.",
                flush=True,
            )
            stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _parse(args: argparse.Namespace) -> int:
    with server_url(args) as url, SyncNluClient(url, timeout=args.timeout) as client:
        understanding = client.parse(args.text)
        if understanding is None:
            print(f"error: no answer from the NLU server at {url}", file=sys.stderr)
            return 2
        if args.json:
            print(
                json.dumps(
                    {
                        "text": understanding.text,
                        "intent": None if understanding.intent is None else vars(understanding.intent),
                        "ranking": [vars(guess) for guess in understanding.ranking],
                        "entities": [vars(entity) for entity in understanding.entities],
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return 0
        if understanding.intent is None:
            print("intent: none (below the fallback threshold)")
        else:
            print(f"intent: {understanding.intent.name} ({understanding.intent.confidence:.3f})")
        print("ranking:")
        for guess in understanding.ranking[:5]:
            print(f"  {guess.confidence:.3f}  {guess.name}")
        print("entities:" if understanding.entities else "entities: none")
        for entity in understanding.entities:
            print(f"  {entity.entity} = {entity.value!r} [{entity.start}:{entity.end}]")
    return 0


def _eval(args: argparse.Namespace) -> int:
    tests = args.tests or NluProject.at(args.root).tests
    examples = load_examples(tests)
    with server_url(args) as url, SyncNluClient(url, timeout=args.timeout, cooldown=0.0) as client:
        report = evaluate(examples, client.parse)
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report_dict(report), indent=2) + "\n")
    if report.overall.macro_f1 < args.min_f1:
        print(
            f"\nmacro-F1 {report.overall.macro_f1:.3f} is below --min-f1 {args.min_f1:.3f}", file=sys.stderr
        )
        return 1
    return 0


@contextmanager
def server_url(args: argparse.Namespace) -> Iterator[str]:
    url = args.url or os.environ.get(RASA_URL_ENV, "").strip()
    if url:
        yield url.rstrip("/")
        return
    print(
        f"No --url or ${RASA_URL_ENV}: starting a Rasa server for this command "
        "(`youthvoice nlu serve` keeps one running).",
        file=sys.stderr,
        flush=True,
    )
    with supervise(args.root) as service:
        yield service.url
