"""Bringing the NLU up for the bot: an existing server named by RASA_URL, or a supervised one.

Everything here blocks (an install can take minutes, a training ~45 s, a start ~20-40 s); the bot
calls `start_nlu` from a worker thread (`asyncio.to_thread`) and meanwhile parses return None.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from nlu.server import Backoff, RasaSupervisor
from nlu.training import NluProject, TrainResult, train
from nlu.venv import RasaEnv, ensure_rasa_env

RASA_URL_ENV = "RASA_URL"


@dataclass
class NluService:
    """Where the NLU answers, and the supervisor to stop when this process started the server."""

    url: str
    supervisor: RasaSupervisor | None = None
    training: TrainResult | None = None

    def close(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def prepare_model(root: Path) -> tuple[RasaEnv, NluProject, TrainResult]:
    """Ensure the Rasa environment and a model for the current sources (both cached)."""
    project = NluProject.at(root)
    # Missing sources are found before a long first install, not after.
    project.check_sources()
    env = RasaEnv(ensure_rasa_env(root))
    return env, project, train(project, env)


def supervise(
    root: Path,
    *,
    port: int | None = None,
    wait: bool = True,
    backoff: Backoff | None = None,
) -> NluService:
    """Install, train if needed, and start a supervised Rasa server on loopback."""
    env, project, result = prepare_model(root)
    supervisor = RasaSupervisor(
        env,
        result.model,
        port=port,
        log_path=project.logs / "rasa-server.log",
        cwd=project.var,
        backoff=backoff,
    )
    supervisor.start(wait=wait)
    return NluService(url=supervisor.url, supervisor=supervisor, training=result)


def start_nlu(
    root: Path,
    environ: Mapping[str, str] | None = None,
    *,
    port: int | None = None,
    wait: bool = True,
) -> NluService:
    """The NLU the bot should use: RASA_URL when set (nothing is started), else a supervised server."""
    url = (os.environ if environ is None else environ).get(RASA_URL_ENV, "").strip()
    if url:
        return NluService(url=url.rstrip("/"))
    return supervise(root, port=port, wait=wait)
