"""Running the Rasa server: `rasa run --enable-api` on loopback, watched and restarted on failure.

`RasaSupervisor` is thread based: one watcher thread owns the child process, so the supervisor
works the same from the synchronous command line, from session-wide test fixtures and from the
bot's event loop (which calls `start(wait=False)` and lets the client return None until ready),
without tying the child's lifetime to any particular event loop.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from nlu.venv import RasaEnv, tail

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 5005


class RasaServerError(RuntimeError):
    """The Rasa server did not come up."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def serve_command(env: RasaEnv, model: Path, port: int) -> list[str]:
    """`rasa run` with the HTTP API on loopback only, without CORS or an action server."""
    return [
        str(env.rasa),
        "run",
        "--enable-api",
        "-i",
        LOOPBACK,
        "-p",
        str(port),
        "--model",
        str(model),
    ]


def model_status(base_url: str, timeout: float = 2.0) -> dict[str, object] | None:
    """GET /status when the server has a model loaded, else None (not up, no model, error)."""
    try:
        response = httpx.get(f"{base_url}/status", timeout=timeout, trust_env=False)
        payload = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    if isinstance(payload, dict) and payload.get("model_file"):
        return payload
    return None


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process, from /proc (None when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


@dataclass(frozen=True)
class Backoff:
    """Delays between restarts: doubling from `initial` up to `maximum`; reset once stable."""

    initial: float = 1.0
    maximum: float = 60.0
    stable_after: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.initial * 2 ** max(failures - 1, 0), self.maximum))


class RasaSupervisor:
    """Starts the Rasa server, restarts it when it dies or stops answering, and stops it cleanly."""

    def __init__(
        self,
        env: RasaEnv,
        model: Path,
        *,
        log_path: Path,
        cwd: Path,
        port: int | None = None,
        start_timeout: float = 300.0,
        backoff: Backoff | None = None,
        health_interval: float = 5.0,
        health_failures: int = 3,
    ) -> None:
        self.env = env
        self.model = model
        self.port = free_port() if port is None else port
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log_path = log_path
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.backoff = backoff or Backoff()
        self.health_interval = health_interval
        self.health_failures = health_failures
        self.restarts = 0
        self.last_start_seconds: float | None = None
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The pid of the current server process, if one is running."""
        with self._lock:
            process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def is_ready(self) -> bool:
        return self._ready.is_set()

    def start(self, *, wait: bool = True) -> None:
        """Start watching; with `wait`, return once the model is loaded or raise RasaServerError."""
        if self._thread is not None:
            raise RuntimeError("this supervisor was already started")
        if not self.model.is_file():
            raise RasaServerError(f"no model at {self.model}")
        if port_in_use(self.port):
            # Its /status would pass for ours while our server fails to bind.
            raise RasaServerError(f"port {self.port} on {LOOPBACK} is already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.cwd.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._watch, name=f"rasa-supervisor-{self.port}", daemon=True)
        self._thread.start()
        if not wait:
            return
        try:
            ready = self.wait_ready(self.start_timeout)
        except BaseException:
            # Interrupted (Ctrl-C) while loading: leave no server behind.
            self.stop()
            raise
        if not ready:
            self.stop()
            raise RasaServerError(
                f"Rasa server on {self.url} did not load {self.model.name} within "
                f"{self.start_timeout:.0f} s; last lines of {self.log_path}:\n{tail(self.log_path)}"
            )

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout`) and the watcher."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None:
            _terminate(process, timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._ready.clear()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            process = self._spawn()
            if process is None:
                return
            ran_for = self._supervise(process, started)
            self._ready.clear()
            if self._stopping.is_set():
                return
            failures = 1 if ran_for >= self.backoff.stable_after else failures + 1
            delay = self.backoff.delay(failures)
            self.restarts += 1
            logger.warning(
                "Rasa server on %s stopped (exit code %s) after %.0f s; restarting in %.0f s (log: %s)",
                self.url,
                process.returncode,
                ran_for,
                delay,
                self.log_path,
            )
            self._stopping.wait(delay)

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        command = self.env.tethered(serve_command(self.env, self.model, self.port))
        with self._lock:
            if self._stopping.is_set():
                return None
            log: IO[bytes] = self.log_path.open("ab")
            try:
                log.write(f"\n$ {' '.join(serve_command(self.env, self.model, self.port))}\n".encode())
                log.flush()
                # Own session: a Ctrl-C in the terminal reaches the supervisor, which stops Rasa in order.
                self._process = subprocess.Popen(
                    command,
                    cwd=self.cwd,
                    env=self.env.process_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            finally:
                log.close()
            logger.info("Started Rasa server pid %d on %s", self._process.pid, self.url)
            return self._process

    def _supervise(self, process: subprocess.Popen[bytes], started: float) -> float:
        """Wait for readiness, then watch health; return how long the process ran."""
        if not self._await_ready(process, started + self.start_timeout):
            return time.monotonic() - started
        self.last_start_seconds = time.monotonic() - started
        logger.info("Rasa server on %s ready in %.1f s", self.url, self.last_start_seconds)
        self._ready.set()
        misses = 0
        while not self._stopping.is_set():
            try:
                process.wait(self.health_interval)
                break
            except subprocess.TimeoutExpired:
                pass
            if model_status(self.url) is not None:
                misses = 0
                continue
            misses += 1
            if misses >= self.health_failures:
                logger.warning("Rasa server on %s stopped answering; killing it", self.url)
                _terminate(process, 10.0)
                break
        return time.monotonic() - started

    def _await_ready(self, process: subprocess.Popen[bytes], deadline: float) -> bool:
        while not self._stopping.is_set():
            if process.poll() is not None:
                return False
            if model_status(self.url) is not None:
                return True
            if time.monotonic() > deadline:
                logger.warning("Rasa server on %s not ready after %.0f s", self.url, self.start_timeout)
                _terminate(process, 10.0)
                return False
            time.sleep(0.25)
        return False


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()
