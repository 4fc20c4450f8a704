"""Updates kept on local disk while the database cannot take them, so an outage loses no answer.

One JSON file per update, named by its update id (Telegram numbers updates in arrival order), written
to a temporary name, flushed to disk and renamed: a crash leaves either the whole update or nothing.
The files hold what Telegram sent (chat id, names, text); each is removed once its turn is stored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUFFIX = ".json"


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # Chats with updates waiting: their newer updates must queue behind them, not overtake.
        self._waiting: dict[int, set[Path]] = {}
        for path, chat_id, _ in self.waiting():
            self._waiting.setdefault(chat_id, set()).add(path)

    def holds(self, chat_id: int) -> bool:
        return chat_id in self._waiting

    def keep(self, update_id: int, chat_id: int, update: dict[str, Any]) -> bool:
        """Write one update durably; False if even the disk refuses (then the sender must resend)."""
        path = self.directory / f"{update_id:020d}{SUFFIX}"
        partial = path.with_suffix(".partial")
        try:
            with partial.open("w", encoding="utf-8") as file:
                json.dump({"chat_id": chat_id, "update": update}, file, ensure_ascii=False)
                file.flush()
                os.fsync(file.fileno())
            partial.replace(path)
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError:
            log.exception("could not keep update %d of chat %d on disk", update_id, chat_id)
            with contextlib.suppress(OSError):
                partial.unlink()
            return False
        self._waiting.setdefault(chat_id, set()).add(path)
        return True

    def waiting(self) -> list[tuple[Path, int, dict[str, Any]]]:
        """Kept updates, oldest first: (file, chat id, the update as Telegram sent it)."""
        kept: list[tuple[Path, int, dict[str, Any]]] = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                kept.append((path, int(data["chat_id"]), data["update"]))
            except FileNotFoundError:
                continue  # another worker sharing the directory took it meanwhile
            except (OSError, ValueError, KeyError, TypeError):
                log.exception("unreadable kept update %s: moving it aside", path)
                with contextlib.suppress(OSError):
                    path.rename(path.with_suffix(".unreadable"))
        return kept

    def done(self, path: Path, chat_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._forget(path, chat_id)

    def set_aside(self, path: Path, chat_id: int) -> None:
        """An update that fails for a reason other than the database: kept, out of the queue."""
        with contextlib.suppress(FileNotFoundError):
            path.rename(path.with_suffix(".failed"))
        self._forget(path, chat_id)

    def _forget(self, path: Path, chat_id: int) -> None:
        paths = self._waiting.get(chat_id)
        if paths is not None:
            paths.discard(path)
            if not paths:
                del self._waiting[chat_id]
