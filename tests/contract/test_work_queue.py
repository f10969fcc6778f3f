"""What every WorkQueue must do: SQS semantics (visibility, delay, receive count, DLQ).

Times are small whole seconds: the fake clock jumps, while SQS on moto really waits.
"""

from __future__ import annotations

from swescribe.core.ports import WorkItem
from tests.contract.conftest import Advance, QueueFactory

ITEM = WorkItem("transcribe", "job1", "transcription_upload/job1/a.mp3")


def test_an_item_is_received_then_hidden_until_its_visibility_ends(
    make_queue: QueueFactory, advance: Advance
) -> None:
    queue = make_queue(5)
    queue.send(ITEM)
    assert queue.depth() == 1
    message = queue.receive(0, 1)
    assert message is not None
    assert message.item == ITEM
    assert message.receive_count == 1
    assert queue.depth() == 0, "in flight is not waiting"
    assert queue.receive(0, 1) is None
    advance(1)
    again = queue.receive(0, 1)
    assert again is not None
    assert again.receive_count == 2


def test_ack_removes_and_a_stale_receipt_does_nothing(
    make_queue: QueueFactory, advance: Advance
) -> None:
    queue = make_queue(5)
    queue.send(ITEM)
    first = queue.receive(0, 1)
    assert first is not None
    advance(1)
    second = queue.receive(0, 1)
    assert second is not None
    queue.ack(first)
    assert queue.receive(0, 1) is None, "the stale ack removed nothing; the item is in flight"
    queue.ack(second)
    advance(1)
    assert queue.receive(0, 1) is None
    assert queue.depth() == 0


def test_delay_release_and_extend(
    make_queue: QueueFactory, advance: Advance, queue_backend: str
) -> None:
    queue = make_queue(5)
    queue.send(ITEM, delay_seconds=1)
    assert queue.receive(0, 1) is None
    assert queue.depth() == 1, "a delayed item is waiting"
    advance(1)
    message = queue.receive(0, 1)
    assert message is not None
    queue.extend(message, 2)
    advance(1)
    assert queue.receive(0, 1) is None, "extended visibility holds"
    queue.release(message, delay_seconds=1)
    if queue_backend == "sqs":
        # SQS counts a message released with a delay as in flight (NotVisible), not delayed.
        assert queue.depth() == 0
    else:
        assert queue.depth() == 1
    advance(1)
    assert queue.receive(0, 1) is not None


def test_items_come_out_oldest_first(make_queue: QueueFactory) -> None:
    queue = make_queue(5)
    for n in range(3):
        queue.send(WorkItem("transcribe", f"job{n}"))
    got = []
    for _ in range(3):
        message = queue.receive(0, 10)
        assert message is not None
        got.append(message.item.job_id)
    assert got == ["job0", "job1", "job2"]


def test_the_items_owner_travels_with_it(make_queue: QueueFactory) -> None:
    queue = make_queue(5)
    item = WorkItem("transcribe", "job1", "transcription_upload/job1/a.mp3", owner="key-a")
    queue.send(item)
    message = queue.receive(0, 10)
    assert message is not None
    assert message.item == item


def test_an_item_received_too_often_goes_to_the_dead_letter_queue(
    make_queue: QueueFactory, advance: Advance
) -> None:
    queue = make_queue(2)
    queue.send(ITEM)
    for _ in range(2):
        assert queue.receive(0, 1) is not None
        advance(1)
    assert queue.receive(0, 1) is None
    assert queue.depth() == 0
