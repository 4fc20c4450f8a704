import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.spool import Spool


def update(update_id: int, text: str = "hello") -> dict[str, object]:
    return {"update_id": update_id, "message": {"message_id": 1, "text": text}}


def test_kept_updates_come_back_oldest_first_and_leave_when_done(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    assert spool.keep(12, 7, update(12, "second"))
    assert spool.keep(9, 8, update(9, "first"))
    assert spool.holds(7) and spool.holds(8) and not spool.holds(1)
    waiting = spool.waiting()
    assert [(chat, data["message"]["text"]) for _, chat, data in waiting] == [(8, "first"), (7, "second")]
    spool.done(waiting[0][0], 8)
    assert not spool.holds(8) and spool.holds(7)
    assert [chat for _, chat, _ in spool.waiting()] == [7]


def test_a_restarted_bot_finds_what_was_kept(tmp_path: Path) -> None:
    Spool(tmp_path).keep(5, 42, update(5))
    again = Spool(tmp_path)
    assert again.holds(42)
    ((path, chat, data),) = again.waiting()
    assert (chat, data) == (42, update(5))
    again.done(path, 42)
    assert not Spool(tmp_path).holds(42)


def test_an_unreadable_file_is_set_aside_not_retried_forever(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / f"{3:020d}.json").write_text("{not json")
    spool.keep(4, 1, update(4))
    assert [chat for _, chat, _ in spool.waiting()] == [1]
    assert [p.suffix for p in tmp_path.iterdir() if p.suffix != ".json"] == [".unreadable"]


def test_an_update_set_aside_leaves_the_queue_but_stays_on_disk(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep(1, 7, update(1))
    ((path, _, _),) = spool.waiting()
    spool.set_aside(path, 7)
    assert not spool.holds(7) and spool.waiting() == []
    assert [p.name for p in tmp_path.iterdir()] == [f"{1:020d}.failed"]
    assert not Spool(tmp_path).holds(7)


def test_when_the_disk_refuses_the_sender_is_told_so(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (tmp_path / "spool").rmdir()
    (tmp_path / "spool").write_text("a file where the directory was")
    assert spool.keep(1, 1, update(1)) is False
    assert not spool.holds(1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**52), unique=True, max_size=20))
def test_arrival_order_is_update_order_whatever_the_order_written(ids: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        spool = Spool(Path(folder))
        for update_id in ids:
            spool.keep(update_id, update_id % 3, update(update_id))
        assert [data["update_id"] for _, _, data in spool.waiting()] == sorted(ids)
