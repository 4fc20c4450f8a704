import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.spool import Kept, Spool


def kept(update_id: int, chat_id: int, text: str = "hello") -> Kept:
    return Kept(update_id, chat_id, {"update_id": update_id, "message": {"message_id": 1, "text": text}})


def test_a_batch_is_one_file_that_goes_when_all_its_updates_are_done(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.keep([kept(9, 8), kept(10, 7), kept(11, 8)])
    assert [p.name for p in tmp_path.iterdir()] == [f"{9:020d}.json"]
    # Fetched, not stalled: the chats' newer updates need not wait.
    assert not spool.holds(8) and spool.stalled() == []
    spool.done(9)
    spool.done(10)
    assert 11 in spool and 9 not in spool
    assert list(tmp_path.iterdir())
    spool.done(11)
    assert list(tmp_path.iterdir()) == []


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
    assert not Spool(tmp_path).holds(42)


def test_a_batch_fetched_again_after_a_crash_is_kept_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep([kept(5, 1), kept(6, 1)])
    # The offset was never confirmed: Telegram hands out the same updates again, with a new one.
    spool.keep([kept(5, 1), kept(6, 1), kept(7, 2)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{5:020d}.json", f"{7:020d}.json"]
    again = Spool(tmp_path)
    assert [k.update_id for k in again.stalled()] == [5, 6, 7]
    for update_id in (5, 6, 7):
        again.done(update_id)
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_file_is_set_aside_not_retried_forever(tmp_path: Path) -> None:
    (tmp_path / f"{3:020d}.json").write_text("{not json")
    spool = Spool(tmp_path)
    spool.keep([kept(4, 1)])
    spool.stall(4)
    assert [k.chat_id for k in spool.stalled()] == [1]
    assert [p.suffix for p in tmp_path.iterdir() if p.suffix != ".json"] == [".unreadable"]


def test_an_update_set_aside_leaves_the_queue_but_stays_on_disk(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep([kept(1, 7)])
    spool.stall(1)
    spool.set_aside(1)
    assert not spool.holds(7) and spool.stalled() == []
    assert [p.name for p in tmp_path.iterdir()] == [f"{1:020d}.failed"]
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
