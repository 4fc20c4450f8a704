import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels import spool as spool_module
from bot.channels.spool import HEADER, SUFFIX, Kept, Spool, record


def kept(update_id: int, chat_id: int, text: str = "hello") -> Kept:
    return Kept(update_id, chat_id, {"update_id": update_id, "message": {"message_id": 1, "text": text}})


def segments(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{SUFFIX}"))


def test_batches_are_appended_to_one_segment_and_done_updates_are_not_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.keep([kept(9, 8), kept(10, 7), kept(11, 8)])
    assert spool.keep([kept(12, 7)])
    assert [p.name for p in tmp_path.iterdir()] == [f"{1:020d}{SUFFIX}"]
    # Fetched, not stalled: the chats' newer updates need not wait.
    assert not spool.holds(8) and spool.stalled() == []
    spool.done(9)
    spool.done(10)
    assert 11 in spool and 9 not in spool and len(spool) == 2
    # The marks go with the next batch, unflushed: a lost one only means a harmless replay.
    assert spool.keep([kept(13, 9)])
    again = Spool(tmp_path)
    assert [k.update_id for k in again.stalled()] == [11, 12, 13]


def test_a_clean_stop_writes_the_last_marks_and_the_next_run_starts_a_new_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep([kept(1, 1), kept(2, 2)])
    spool.done(1)
    spool.done(2)
    spool.close()
    again = Spool(tmp_path)
    assert len(again) == 0 and segments(tmp_path) == []
    again.keep([kept(3, 1)])
    assert segments(tmp_path) == [tmp_path / f"{2:020d}{SUFFIX}"]
    third = Spool(tmp_path)
    third.keep([kept(4, 1)])
    assert [p.stem for p in segments(tmp_path)] == [f"{2:020d}", f"{3:020d}"]
    third.done(3)
    # The older segment goes once all of its updates are done; the current one stays.
    assert [p.stem for p in segments(tmp_path)] == [f"{3:020d}"]


def test_a_full_segment_makes_way_for_a_new_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_module, "ROTATE_BYTES", 1)
    spool = Spool(tmp_path)
    spool.keep([kept(1, 1)])
    spool.done(1)
    spool.keep([kept(2, 1)])
    assert [p.stem for p in segments(tmp_path)] == [f"{2:020d}"]
    spool.keep([kept(3, 1)])
    assert len(segments(tmp_path)) == 2
    spool.done(2)
    assert [p.stem for p in segments(tmp_path)] == [f"{3:020d}"]
    assert [k.update_id for k in Spool(tmp_path).stalled()] == [3]


def test_message_texts_leave_the_disk_within_a_minute_of_their_turn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    spool = Spool(tmp_path)
    spool.keep([kept(1, 1)])
    spool.done(1)
    spool.tidy()
    assert len(segments(tmp_path)) == 1
    now[0] += spool_module.ROTATE_SECONDS
    spool.tidy()
    assert segments(tmp_path) == []
    # A busy bot: the old segment goes with its last update, later batches are in a new one.
    spool.keep([kept(2, 1)])
    now[0] += spool_module.ROTATE_SECONDS
    spool.done(2)
    spool.keep([kept(3, 1)])
    assert [k.update_id for k in Spool(tmp_path).stalled()] == [3]
    assert len(segments(tmp_path)) == 1


def test_a_torn_last_record_is_ignored_and_what_came_before_is_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep([kept(5, 1)])
    spool.keep([kept(6, 2), kept(7, 1)])
    [segment] = segments(tmp_path)
    whole = segment.read_bytes()
    last = len(record({"kept": [{"update_id": k.update_id, "chat_id": k.chat_id, "update": k.update}
                                for k in (kept(6, 2), kept(7, 1))]}))
    # Cut anywhere inside the last record (a crash during its write): that batch was never flushed,
    # so never confirmed, and Telegram hands it out again.
    for cut in (1, 7, 9, last // 2, last - 1):
        segment.write_bytes(whole[:len(whole) - last + cut])
        again = Spool(tmp_path)
        assert [k.update_id for k in again.stalled()] == [5]
        assert not list(tmp_path.glob("*.unreadable"))
    # Written whole but not all of it reached the disk: the checksum tells.
    segment.write_bytes(whole[:-1] + bytes([whole[-1] ^ 0xFF]))
    again = Spool(tmp_path)
    assert [k.update_id for k in again.stalled()] == [5]
    # Handed out again, the batch is kept in this run's own segment, after the torn one.
    assert again.keep([kept(6, 2), kept(7, 1)])
    assert [k.update_id for k in Spool(tmp_path).stalled()] == [5, 6, 7]


def test_a_segment_damaged_in_the_middle_keeps_what_precedes_and_a_copy_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep([kept(5, 1)])
    spool.keep([kept(6, 2)])
    spool.keep([kept(7, 3)])
    [segment] = segments(tmp_path)
    data = bytearray(segment.read_bytes())
    first = len(record({"kept": [{"update_id": 5, "chat_id": 1, "update": kept(5, 1).update}]}))
    data[first + HEADER.size + 3] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert [k.update_id for k in Spool(tmp_path).stalled()] == [5]
    assert [p.suffix for p in tmp_path.glob("*.unreadable")] == [".unreadable"]


def test_a_failed_write_never_hides_later_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path)
    spool.keep([kept(1, 1)])
    real_write = os.write

    def short_then_failing(fd: int, data: bytes | memoryview) -> int:
        monkeypatch.setattr(os, "write", real_write)
        real_write(fd, bytes(data)[:5])
        raise OSError("no space left on device")

    monkeypatch.setattr(os, "write", short_then_failing)
    assert spool.keep([kept(2, 1)]) is False
    assert 2 not in spool
    assert spool.keep([kept(3, 1)])
    assert [k.update_id for k in Spool(tmp_path).stalled()] == [1, 3]


def test_stalled_updates_come_back_oldest_first_and_hold_their_chat(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep([kept(12, 7, "second")])
    spool.keep([kept(9, 8, "first")])
    spool.stall(12)
    spool.stall(9)
    assert spool.holds(7) and spool.holds(8) and not spool.holds(1)
    assert [(k.chat_id, k.update["message"]["text"]) for k in spool.stalled()] == [(8, "first"),
                                                                                   (7, "second")]
    spool.done(9)
    assert not spool.holds(8) and spool.holds(7)
    assert [k.chat_id for k in spool.stalled()] == [7]


def test_a_restarted_bot_finds_what_was_kept_and_replays_it(tmp_path: Path) -> None:
    Spool(tmp_path).keep([kept(5, 42), kept(6, 43)])
    again = Spool(tmp_path)
    # After a crash nobody knows how far the turns got: everything kept waits for the replay.
    assert again.holds(42) and again.holds(43)
    assert [k.update_id for k in again.stalled()] == [5, 6]
    again.done(5)
    again.done(6)
    again.keep([kept(7, 44)])
    assert not Spool(tmp_path).holds(42)


def test_a_batch_fetched_again_after_a_crash_is_kept_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep([kept(5, 1), kept(6, 1)])
    # The offset was never confirmed: Telegram hands out the same updates again, with a new one.
    spool.keep([kept(5, 1), kept(6, 1), kept(7, 2)])
    again = Spool(tmp_path)
    assert [k.update_id for k in again.stalled()] == [5, 6, 7]
    again.keep([kept(5, 1), kept(6, 1), kept(7, 2), kept(8, 2)])
    for update_id in (5, 6, 7, 8):
        again.done(update_id)
    again.close()
    assert len(Spool(tmp_path)) == 0 and segments(tmp_path) == []


def test_an_update_set_aside_leaves_the_queue_but_stays_on_disk(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep([kept(1, 7)])
    spool.stall(1)
    spool.set_aside(1)
    assert not spool.holds(7) and spool.stalled() == []
    assert [p.name for p in tmp_path.glob("*.failed")] == [f"{1:020d}.failed"]
    assert not Spool(tmp_path).holds(7)


def test_when_the_disk_refuses_the_sender_is_told_so(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (tmp_path / "spool").rmdir()
    (tmp_path / "spool").write_text("a file where the directory was")
    assert spool.keep([kept(1, 1)]) is False
    assert 1 not in spool


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**52), unique=True, max_size=20))
def test_replay_order_is_update_order_whatever_the_order_written(ids: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        spool = Spool(Path(folder))
        for update_id in ids:
            spool.keep([kept(update_id, update_id % 3)])
        assert [k.update_id for k in Spool(Path(folder)).stalled()] == sorted(ids)


def test_set_aside_updates_go_after_the_retention_period(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    old = tmp_path / "00000000000000000001.failed"
    recent = tmp_path / "00000000000000000002.unreadable"
    for path in (old, recent):
        path.write_text('{"text": "a message"}', encoding="utf-8")
    os.utime(old, (1_000, 1_000))
    assert spool.forget_set_aside(before=2_000) == 1
    assert not old.exists() and recent.exists()
