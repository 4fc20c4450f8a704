"""Updates kept on local disk until their turn is stored, so neither a crash nor an outage loses one.

Long polling writes each batch Telegram hands out here, in one file, flushed to disk, before the next
getUpdates confirms it; a webhook update is written here only when the database cannot take it. A
file is written to a temporary name, flushed and renamed: a crash leaves the whole batch or nothing.
Each update is marked done once its turn is stored, and the file goes when all of its updates are.
After a restart everything still here is handled again, oldest first (handled-message marks make a
repeat harmless).

An update whose turn cannot be stored now (the database is down) stays here *stalled*: it, and every
later update of the same chat, waits for the replay, so they keep their order. The files hold what
Telegram sent (chat id, names, text).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUFFIX = ".json"


@dataclass(frozen=True)
class Kept:
    update_id: int
    chat_id: int
    update: dict[str, Any]


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._entries: dict[int, tuple[Path, Kept]] = {}
        self._files: dict[Path, set[int]] = {}
        # Stalled updates per chat: that chat's newer updates must queue behind them, not overtake.
        self._stalled: dict[int, set[int]] = {}
        for path in sorted(directory.glob(f"*{SUFFIX}")):
            for kept in self._read(path):
                if kept.update_id not in self._entries:
                    self._index(path, kept)
                    self.stall(kept.update_id)
            if path not in self._files:
                # Every update in it is also in an older file (a batch fetched again after a crash),
                # or it was unreadable and moved aside.
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def keep(self, batch: Sequence[Kept]) -> bool:
        """Write updates durably, in one file; False if even the disk refuses."""
        batch = [kept for kept in batch if kept.update_id not in self._entries]
        if not batch:
            return True
        path = self.directory / f"{batch[0].update_id:020d}{SUFFIX}"
        partial = path.with_suffix(".partial")
        try:
            # Encoded whole, then written at once: json.dump would encode piece by piece in Python.
            data = json.dumps([{"update_id": k.update_id, "chat_id": k.chat_id, "update": k.update}
                               for k in batch], ensure_ascii=False).encode()
            with partial.open("wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            partial.replace(path)
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError:
            log.exception("could not keep %d updates on disk", len(batch))
            with contextlib.suppress(OSError):
                partial.unlink()
            return False
        for kept in batch:
            self._index(path, kept)
        return True

    def holds(self, chat_id: int) -> bool:
        """Updates of this chat wait for the replay: a newer one must wait behind them."""
        return chat_id in self._stalled

    def stall(self, update_id: int) -> None:
        """Its turn could not be stored now: it waits for the replay."""
        entry = self._entries.get(update_id)
        if entry is not None:
            self._stalled.setdefault(entry[1].chat_id, set()).add(update_id)

    def stalled(self) -> list[Kept]:
        """Updates waiting for the replay, oldest first."""
        ids = sorted(i for chat in self._stalled.values() for i in chat)
        return [self._entries[i][1] for i in ids]

    def __contains__(self, update_id: int) -> bool:
        return update_id in self._entries

    def done(self, update_id: int) -> None:
        """Its turn is stored: forget it, and remove its file once the whole batch is done."""
        entry = self._entries.pop(update_id, None)
        if entry is None:
            return
        path, kept = entry
        chat = self._stalled.get(kept.chat_id)
        if chat is not None:
            chat.discard(update_id)
            if not chat:
                del self._stalled[kept.chat_id]
        remaining = self._files[path]
        remaining.discard(update_id)
        if not remaining:
            del self._files[path]
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def set_aside(self, update_id: int) -> None:
        """It fails for a reason other than the database: kept for a person to look at, out of the queue."""
        entry = self._entries.get(update_id)
        if entry is None:
            return
        kept = entry[1]
        try:
            (self.directory / f"{update_id:020d}.failed").write_text(
                json.dumps({"update_id": kept.update_id, "chat_id": kept.chat_id, "update": kept.update},
                           ensure_ascii=False), encoding="utf-8")
        except OSError:
            log.exception("could not set update %d aside", update_id)
        self.done(update_id)

    def forget_set_aside(self, before: float) -> int:
        """Remove updates set aside (failed or unreadable) before ``before`` (a Unix time): they hold
        message text, kept no longer than the retention period. Returns how many went."""
        removed = 0
        for pattern in ("*.failed", "*.unreadable"):
            for path in self.directory.glob(pattern):
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < before:
                        path.unlink()
                        removed += 1
        return removed

    def _index(self, path: Path, kept: Kept) -> None:
        self._entries[kept.update_id] = (path, kept)
        self._files.setdefault(path, set()).add(kept.update_id)

    def _read(self, path: Path) -> list[Kept]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [Kept(int(d["update_id"]), int(d["chat_id"]), d["update"]) for d in data]
        except (OSError, ValueError, KeyError, TypeError):
            log.exception("unreadable kept updates %s: moving them aside", path)
            with contextlib.suppress(OSError):
                path.rename(path.with_suffix(".unreadable"))
            return []
