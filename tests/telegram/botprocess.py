"""The bot as its own process (`youthvoice run`), as in production: started, killed, started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.telegram import SECRET, EmulatedBot

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BotProcess:
    bot: EmulatedBot
    database: str
    folder: Path
    webhook_port: int | None = None
    public_url: str | None = None
    config: Path = ROOT / "config.yml"
    process: subprocess.Popen[bytes] | None = None
    starts: list[float] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.folder / "bot.log"

    def start(self) -> None:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": self.bot.token, "TELEGRAM_API_URL": self.bot.url,
               "TELEGRAM_WEBHOOK_SECRET": SECRET, "DATABASE_URL": self.database}
        # -v: what the bot did (replies taken over, dropped as out of date) is in the log when a run fails.
        command = [sys.executable, "-m", "bot.cli", "--config", str(self.config), "-v", "run", "--no-nlu",
                   "--spool", str(self.folder / "spool")]
        if self.webhook_port is not None:
            url = self.public_url or f"http://127.0.0.1:{self.webhook_port}/telegram"
            command += ["--webhook", "--listen", "127.0.0.1", "--port", str(self.webhook_port), "--url", url]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                            stderr=output)
        self.starts.append(time.monotonic())

    def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills.append(time.monotonic())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def last_start_before(self, moment: float) -> float:
        return max((s for s in self.starts if s <= moment), default=moment)
