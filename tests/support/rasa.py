"""The real Rasa NLU server for tests, plus small loopback servers that misbehave on purpose.

`running_rasa()` ensures the Rasa environment, trains the model (cached under var/nlu by content
hash, so a second test run does not retrain) and starts a supervised server on a free loopback
port. When something is missing (no Python 3.10, no training data) the tests fail with the reason:
they never skip silently.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nlu.evaluation import load_examples
from nlu.lookups import LookupConfigError
from nlu.runtime import prepare_model
from nlu.server import LOOPBACK, Backoff, RasaServerError, RasaSupervisor, free_port
from nlu.training import NluProject, TrainingError, TrainResult
from nlu.venv import RasaEnv, RasaEnvError

ROOT = Path(__file__).resolve().parents[2]
# Generous: two cores shared with other jobs make the model load take from 20 s to 90 s.
START_TIMEOUT = 300.0


@dataclass(frozen=True)
class RasaTestServer:
    url: str
    supervisor: RasaSupervisor
    env: RasaEnv
    project: NluProject
    training: TrainResult


def prepare(root: Path = ROOT) -> tuple[RasaEnv, NluProject, TrainResult]:
    """Environment and model for the project at `root`, or a test failure saying what is missing."""
    try:
        return prepare_model(root)
    except (RasaEnvError, TrainingError, LookupConfigError) as error:
        pytest.fail(f"cannot prepare the Rasa NLU for tests: {error}", pytrace=False)


@contextmanager
def running_rasa(root: Path = ROOT) -> Iterator[RasaTestServer]:
    env, project, training = prepare(root)
    supervisor = RasaSupervisor(
        env,
        training.model,
        log_path=project.logs / "rasa-test-server.log",
        cwd=project.var,
        start_timeout=START_TIMEOUT,
        backoff=Backoff(initial=0.5, maximum=5.0),
    )
    try:
        supervisor.start()
    except RasaServerError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield RasaTestServer(supervisor.url, supervisor, env, project, training)
    finally:
        supervisor.stop()


def training_example(root: Path = ROOT) -> tuple[str, str]:
    """A message the model was trained on and its intent: the answer it knows best."""
    examples = load_examples(root / "nlu" / "data")
    commonest, _ = Counter(example.intent for example in examples).most_common(1)[0]
    example = next(example for example in examples if example.intent == commonest)
    return example.text, example.intent


def unused_url() -> str:
    """A loopback URL where nothing listens: connections are refused at once."""
    return f"http://{LOOPBACK}:{free_port()}"


@contextmanager
def hanging_server() -> Iterator[str]:
    """A loopback server that accepts connections but never answers."""
    listener = socket.create_server((LOOPBACK, 0))
    # accept() is not woken by close() from another thread: poll so the server can stop at once.
    listener.settimeout(0.05)
    accepted: list[socket.socket] = []
    closing = threading.Event()

    def accept() -> None:
        while not closing.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{listener.getsockname()[1]}"
    finally:
        # Join first: a connection accepted while closing would otherwise escape the loop below.
        closing.set()
        thread.join(5)
        listener.close()
        for connection in accepted:
            connection.close()


@dataclass
class CannedAnswer:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"


@dataclass
class StubRasa:
    """A loopback HTTP server answering POST /model/parse with whatever `answer` holds."""

    url: str
    answer: CannedAnswer = field(default_factory=CannedAnswer)
    requests: list[str] = field(default_factory=list)

    def reply_json(self, payload: object, status: int = 200) -> None:
        self.answer = CannedAnswer(status, json.dumps(payload).encode())

    def reply_raw(self, body: bytes, status: int = 200, content_type: str = "text/plain") -> None:
        self.answer = CannedAnswer(status, body, content_type)


@contextmanager
def stub_rasa() -> Iterator[StubRasa]:
    stub = StubRasa(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            stub.requests.append(self.rfile.read(length).decode())
            answer = stub.answer
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            """Silent: the tests read `requests` instead of the access log."""

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    stub.url = f"http://{LOOPBACK}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def rasa_parse_payload(
    text: str,
    intent: str | None,
    confidence: float,
    ranking: list[tuple[str, float]] | None = None,
    entities: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    """A /model/parse answer shaped as Rasa 3.6 writes it."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "text_tokens": [],
        "intent_ranking": [{"name": name, "confidence": score} for name, score in (ranking or [])],
        "response_selector": {"all_retrieval_intents": [], "default": {}},
    }
