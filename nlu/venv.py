"""The Rasa virtual environment: Rasa 3.6 needs Python 3.10 and pins that clash with the bot's own.

`ensure_rasa_env(root)` creates `<root>/.venv-rasa` and installs Rasa under the pinned constraints in
`nlu/constraints-rasa.txt`. A marker file records the hash of what was installed, so a second call
only reads two small files.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"
PYTHON_VERSION = (3, 10)
VENV_DIRNAME = ".venv-rasa"
CONSTRAINTS = Path("nlu", "constraints-rasa.txt")
MARKER_NAME = "youthvoice-installed.sha256"

# Rasa reads these at import time; they keep its processes quiet and private.
RASA_PROCESS_ENV: Mapping[str, str] = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
# Variables of the bot's own interpreter that would leak 3.11 packages into Rasa's 3.10.
_FOREIGN_PYTHON_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__")


# Runs in the venv's Python before a Rasa command: asks the kernel to kill the command when the
# thread that started it ends, so a crashed bot or test run never leaves a 1.2 GB server or a
# training behind. PR_SET_PDEATHSIG (Linux only; elsewhere the command just runs) survives exec;
# the ppid check covers a parent that died first.
_TETHER = """\
import ctypes, os, signal, sys
prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
if prctl is not None:
    prctl(1, signal.SIGKILL)
if os.getppid() != int(sys.argv[1]):
    sys.exit(70)
os.execv(sys.argv[2], sys.argv[2:])
"""


class RasaEnvError(RuntimeError):
    """The Rasa environment cannot be created or used."""


@dataclass(frozen=True)
class RasaEnv:
    """An installed Rasa virtual environment and how to run its programs."""

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def rasa(self) -> Path:
        return self.path / "bin" / "rasa"

    def tethered(self, command: Sequence[str]) -> list[str]:
        """`command` (a program of this venv) wrapped so it dies with the calling thread."""
        return [str(self.python), "-c", _TETHER, str(os.getpid()), *command]

    def process_env(self, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
        """The environment for a process of this venv: its bin first, telemetry off."""
        env = {k: v for k, v in (os.environ if base is None else base).items()}
        for name in _FOREIGN_PYTHON_ENV:
            env.pop(name, None)
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = os.pathsep.join([str(self.path / "bin"), env.get("PATH", os.defpath)])
        env.update(RASA_PROCESS_ENV)
        env.update(extra)
        return env


def rasa_env(root: Path) -> RasaEnv:
    """The Rasa environment of the project at `root`, whether or not it is installed yet."""
    return RasaEnv(root / VENV_DIRNAME)


def python310_candidates(environ: Mapping[str, str] | None = None) -> list[str]:
    """Where a Python 3.10 may be, in order: pyenv's 3.10.13, PATH, `pyenv prefix 3.10`, the system."""
    env = os.environ if environ is None else environ
    candidates: list[str] = []
    pyenv_roots: list[str] = []
    pyenv_root = _run_for_line(["pyenv", "root"], env)
    if pyenv_root:
        pyenv_roots.append(pyenv_root)
    if env.get("PYENV_ROOT"):
        pyenv_roots.append(env["PYENV_ROOT"])
    pyenv_roots.append(str(Path.home() / ".pyenv"))
    pyenv_roots.append("/root/.pyenv")
    for pyenv in pyenv_roots:
        candidates.append(str(Path(pyenv, "versions", "3.10.13", "bin", "python3.10")))
    on_path = shutil.which("python3.10", path=env.get("PATH", os.defpath))
    candidates.append(on_path if on_path else "python3.10 on PATH")
    prefix = _run_for_line(["pyenv", "prefix", "3.10"], env)
    candidates.append(str(Path(prefix, "bin", "python3.10")) if prefix else "`pyenv prefix 3.10`")
    candidates.append("/usr/bin/python3.10")
    return list(dict.fromkeys(candidates))


def find_python310(candidates: Sequence[str] | None = None) -> Path:
    """The first candidate that is a working Python 3.10 able to create virtual environments."""
    tried: list[str] = []
    for candidate in python310_candidates() if candidates is None else candidates:
        path = Path(candidate)
        if not path.is_absolute() or not path.exists():
            tried.append(f"{candidate}: not found")
            continue
        problem = _python310_problem(path)
        if problem is None:
            return path
        tried.append(f"{candidate}: {problem}")
    raise RasaEnvError(
        f"Rasa {RASA_VERSION} needs Python 3.10 with the venv module, and none was found. Looked for:\n"
        + "\n".join(f"  - {line}" for line in tried)
        + "\nInstall one, e.g. `pyenv install 3.10.13` or `apt-get install python3.10 python3.10-venv`."
    )


def _python310_problem(python: Path) -> str | None:
    probe = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"
    try:
        done = subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot run ({error})"
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return f"unusable ({last[0]})"
    version = done.stdout.strip()
    if version != "{}.{}".format(*PYTHON_VERSION):
        return f"is Python {version}"
    return None


def _run_for_line(command: list[str], env: Mapping[str, str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False, env=dict(env))
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = done.stdout.strip()
    return line if done.returncode == 0 and line else None


def install_fingerprint(root: Path) -> str:
    """What an installed venv must match: the Rasa version and the exact constraints."""
    constraints = root / CONSTRAINTS
    try:
        content = constraints.read_bytes()
    except FileNotFoundError as error:
        raise RasaEnvError(f"{constraints} is missing: it pins the Rasa environment") from error
    digest = hashlib.sha256()
    digest.update(f"rasa=={RASA_VERSION}\npython{PYTHON_VERSION}\n".encode())
    digest.update(content)
    return digest.hexdigest()


def is_installed(root: Path) -> bool:
    env = rasa_env(root)
    marker = env.path / MARKER_NAME
    try:
        recorded = marker.read_text().strip()
    except OSError:
        # Missing, or unreadable: a link to a removed environment, or one that loops.
        return False
    return recorded == install_fingerprint(root) and env.rasa.exists() and env.python.exists()


def ensure_rasa_env(root: Path, *, log_path: Path | None = None) -> Path:
    """Create or update `<root>/.venv-rasa` so it holds exactly the pinned Rasa; return its path.

    Cheap when already done. Raises RasaEnvError naming what failed (no Python 3.10, pip error).
    """
    root = root.resolve()
    env = rasa_env(root)
    if is_installed(root):
        return env.path
    log = log_path or root / "var" / "nlu" / "logs" / "rasa-install.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(root / "var" / "nlu" / "rasa-env.lock"):
        # Another process may have finished the install while this one waited for the lock.
        if is_installed(root):
            return env.path
        _install(root, env, log)
    return env.path


def _install(root: Path, env: RasaEnv, log: Path) -> None:
    started = time.monotonic()
    if env.path.exists() and _python310_problem(env.python) is not None:
        logger.info("Removing %s: its interpreter is not a working Python 3.10", env.path)
        shutil.rmtree(env.path)
    if not env.python.exists():
        python = find_python310()
        logger.info("Creating %s with %s", env.path, python)
        _logged_run([str(python), "-m", "venv", str(env.path)], log, env=None)
    (env.path / MARKER_NAME).unlink(missing_ok=True)
    logger.info(
        "Installing Rasa %s into %s (about 2.7 GB, a minute or two; log: %s)",
        RASA_VERSION,
        env.path,
        log,
    )
    _logged_run(
        [
            str(env.python),
            "-m",
            "pip",
            "install",
            "--no-input",
            "--constraint",
            str(root / CONSTRAINTS),
            f"rasa=={RASA_VERSION}",
        ],
        log,
        env=env.process_env(PIP_NO_WARN_SCRIPT_LOCATION="1"),
    )
    version = subprocess.run(
        [str(env.rasa), "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env.process_env(),
    )
    if f"Rasa Version      :         {RASA_VERSION}" not in version.stdout:
        raise RasaEnvError(
            f"{env.rasa} does not report Rasa {RASA_VERSION} after installing:\n"
            + (version.stdout + version.stderr)[-2000:]
        )
    (env.path / MARKER_NAME).write_text(install_fingerprint(root) + "\n")
    logger.info("Rasa environment ready in %.0f s", time.monotonic() - started)


def _logged_run(command: list[str], log: Path, env: dict[str, str] | None) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode != 0:
        raise RasaEnvError(
            f"`{' '.join(command)}` failed with exit code {done.returncode}; "
            f"last lines of {log}:\n{tail(log)}"
        )


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Serialise installs and trainings across processes (a test run and a CLI call, say)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
