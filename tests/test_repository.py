"""What must never be committed: the environments and generated files every checkout makes itself.

A tracked `.venv-rasa` link once replaced the real Rasa environment in each checkout that pulled it
(git overwrites ignored files), so this is checked rather than left to .gitignore alone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ONLY = (".venv", ".venv-rasa", "var", "node_modules")


def test_no_environment_or_generated_folder_is_tracked() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode().split("\0")
    offending = [path for path in tracked if path and path.split("/")[0] in LOCAL_ONLY]
    assert not offending, f"these belong to one checkout and must not be committed: {offending}"
