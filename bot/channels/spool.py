"""Updates kept on local disk until their turn is stored, so neither a crash nor an outage loses one.

Long polling appends each batch Telegram hands out here, in one write flushed to disk (fdatasync),
before the next getUpdates confirms it; a webhook update is written here only when the database
cannot take it. The spool is a log: each process run appends to a segment file of its own, record by
record, each record framed by its length and a CRC-32. A crash in the middle of a write leaves a torn
last record; it is recognised and ignored on reading, and it was never confirmed to Telegram (the
confirmation waits for the flush), so Telegram hands it out again.

Each update is marked done once its turn is stored. The marks are appended without a flush, with the
next batch: one lost in a crash only means a turn replayed, and handled-message marks make a repeat
harmless. A segment goes once all of its updates are done (the current one when it has grown past a
size, and a fresh one takes over). After a restart everything not marked done is handled again,
oldest first.

An update whose turn cannot be stored now (the database is down) stays here *stalled*: it, and every
later update of the same chat, waits for the replay, so they keep their order. The files hold what
Telegram sent (chat id, names, text).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUFFIX = ".log"
# Record header: payload length, CRC-32 of the payload.
HEADER = struct.Struct("<II")
# A segment is replaced once it is this large or this old, and goes once its updates are all done:
# the log is not a history, and message texts stay on disk no longer than a turn or so.
ROTATE_BYTES = 1 << 20
ROTATE_SECONDS = 60.0


@dataclass(frozen=True)
class Kept:
    update_id: int
    chat_id: int
    update: dict[str, Any]


def record(payload: object) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return HEADER.pack(len(data), zlib.crc32(data)) + data


def records(data: bytes) -> tuple[list[Any], int]:
    """The whole records at the start of ``data``, and where the first bad one starts (or the end)."""
    found: list[Any] = []
    at = 0
    while at + HEADER.size <= len(data):
        length, crc = HEADER.unpack_from(data, at)
        payload = data[at + HEADER.size:at + HEADER.size + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            return found, at
        try:
            found.append(json.loads(payload))
        except ValueError:
            return found, at
        at += HEADER.size + length
    return found, at


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._entries: dict[int, tuple[Path, Kept]] = {}
        self._files: dict[Path, set[int]] = {}
        # Stalled updates per chat: that chat's newer updates must queue behind them, not overtake.
        self._stalled: dict[int, set[int]] = {}
        # This run's segment, opened on the first batch; done marks waiting for the next write.
        self._segment: Path | None = None
        self._fd: int | None = None
        self._size = 0
        self._opened = 0.0
        self._marks: list[int] = []
        # The segment's file is written from worker threads (a batch, several webhook updates at
        # once during an outage) and retired from the event loop, which must never wait on a flush.
        self._lock = threading.Lock()
        segments = sorted(directory.glob(f"*{SUFFIX}"))
        self._next = int(segments[-1].stem) + 1 if segments else 1
        for path in segments:
            self._load(path)
        for path in segments:
            if path not in self._files:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        # After a crash nobody knows how far the turns got: everything kept waits for the replay.
        for update_id in list(self._entries):
            self.stall(update_id)

    def __len__(self) -> int:
        return len(self._entries)

    def keep(self, batch: Sequence[Kept]) -> bool:
        """Write updates durably, in one write and one flush; False if even the disk refuses."""
        with self._lock:
            return self._keep(batch)

    def _keep(self, batch: Sequence[Kept]) -> bool:
        batch = [kept for kept in batch if kept.update_id not in self._entries]
        if not batch:
            return True
        # Taken before encoding: turns finishing meanwhile (on the event loop) mark the next batch's.
        marks, self._marks = self._marks, []
        data = record({"kept": [{"update_id": k.update_id, "chat_id": k.chat_id, "update": k.update}
                                for k in batch]})
        if marks:
            data = record({"done": marks}) + data
        if self._stale():
            self._retire()
        try:
            fd, path = self._writable()
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fdatasync(fd)
        except OSError:
            log.exception("could not keep %d updates on disk", len(batch))
            # What follows a torn record could not be read back: the next batch goes to a new segment.
            self._close()
            self._marks = marks + self._marks
            return False
        self._size += len(data)
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
        """Its turn is stored: forget it, and remove an older segment once all its updates are done."""
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
            if path != self._segment:
                # An older segment holds nothing needed any more: it goes, and no mark is needed.
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                return
        self._marks.append(update_id)

    def tidy(self) -> None:
        """An idle bot's segment goes too once all its updates are done and it has grown old (a busy
        one's is replaced by the next batch). Never waits: a batch being written means not idle."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._segment is not None and self._segment not in self._files and self._stale():
                self._retire()
        finally:
            self._lock.release()

    def close(self) -> None:
        """On the way out: write the done marks still waiting, so a clean restart replays nothing."""
        with self._lock:
            self._write_marks()
            self._close()

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
        # Rare, and failing again on every restart would be worse: its mark is written at once.
        with self._lock:
            self._write_marks()

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

    def _write_marks(self) -> None:
        if self._fd is not None and self._marks:
            marks, self._marks = self._marks, []
            data = record({"done": marks})
            try:
                if os.write(self._fd, data) == len(data):
                    return
            except OSError:
                log.exception("could not mark %d updates done: they will be replayed", len(marks))
            # Nothing may follow a torn record: the next batch goes to a new segment.
            self._close()

    def _writable(self) -> tuple[int, Path]:
        if self._fd is not None and self._segment is not None:
            return self._fd, self._segment
        path = self.directory / f"{self._next:020d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            # The new name must survive a crash too: once per segment, not once per batch.
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError:
            os.close(fd)
            raise
        self._next += 1
        self._fd, self._segment, self._size, self._opened = fd, path, 0, time.monotonic()
        return fd, path

    def _stale(self) -> bool:
        return self._fd is not None and (self._size >= ROTATE_BYTES
                                         or time.monotonic() - self._opened >= ROTATE_SECONDS)

    def _retire(self) -> None:
        """The segment is large enough: later batches go to a new one; it goes once its updates are."""
        segment = self._segment
        self._close()
        if segment is not None and segment not in self._files:
            with contextlib.suppress(FileNotFoundError):
                segment.unlink()

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd, self._segment, self._size = None, None, 0

    def _index(self, path: Path, kept: Kept) -> None:
        self._entries[kept.update_id] = (path, kept)
        self._files.setdefault(path, set()).add(kept.update_id)

    def _load(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError:
            log.exception("unreadable spool segment %s: left in place", path)
            return
        found, end = records(data)
        if end < len(data):
            # A record that reaches the end of the file is the last one, torn; one followed by more is damage.
            claimed = HEADER.unpack_from(data, end)[0] if end + HEADER.size <= len(data) else 0
            if end + HEADER.size + claimed >= len(data):
                # A write cut short by a crash: never flushed, so never confirmed to Telegram.
                log.warning("spool segment %s ends with a torn record: ignored", path)
            else:
                log.error("spool segment %s is damaged at byte %d: a copy is kept aside", path, end)
                with contextlib.suppress(OSError):
                    shutil.copyfile(path, path.with_suffix(".unreadable"))
        try:
            for entry in found:
                for update_id in entry.get("done", ()):
                    self._forget(int(update_id))
                for item in entry.get("kept", ()):
                    kept = Kept(int(item["update_id"]), int(item["chat_id"]), item["update"])
                    if kept.update_id not in self._entries:
                        self._index(path, kept)
        except (AttributeError, KeyError, TypeError, ValueError):
            log.exception("spool segment %s holds a record this version cannot read", path)

    def _forget(self, update_id: int) -> None:
        entry = self._entries.pop(update_id, None)
        if entry is not None:
            remaining = self._files[entry[0]]
            remaining.discard(update_id)
            if not remaining:
                del self._files[entry[0]]
