"""`youthvoice web` serves the console with uvicorn, on loopback by default."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.web.conftest import ROOT, SECRET


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_youthvoice_web_serves_the_sign_in_page_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "YOUTHVOICE_WEB_SECRET": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(ROOT / "config.yml"), "--database",
         f"sqlite:///{tmp_path / 'web.db'}", "web", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", headers={"accept-language": "fr"})
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the console did not start within 30 s"
                time.sleep(0.2)
        assert response.status_code == 200 and "Se connecter" in response.text
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert httpx.get(f"http://127.0.0.1:{port}/static/console.css").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
