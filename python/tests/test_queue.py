# SPDX-License-Identifier: Apache-2.0
"""shmbus.Queue between Python and C++ (Queue<T, MsgpackCodec>) and between Python processes."""
import multiprocessing
import queue
import threading
import time

import pytest

import shmbus
from conftest import assert_interrupted_promptly, finish

ORDER = {"symbol": "ACME", "quantity": -3, "prices": [1.5, 2.25], "note": None}
TABLE = {"a": [1, 2, 3], "b": []}
TYPED = [-42, 0.25, "héllo", b"\x00\xff\x07", [1, 2, 3], TABLE, ORDER, True]


def test_python_values_arrive_in_cpp_as_cpp_types(segment, peer):
    q = shmbus.Queue(segment=segment, name="typed")
    for value in TYPED:
        q.put(value)
    finish(peer("expect-typed", "typed"))


def test_cpp_values_arrive_in_python_as_python_values(segment, peer):
    q = shmbus.Queue(segment=segment, name="typed")
    finish(peer("send-typed", "typed"))
    assert [q.get(timeout=10) for _ in TYPED] == TYPED


def test_python_producer_feeds_cpp_consumers_with_checksums(segment, peer):
    consumers, count = 3, 30000
    q = shmbus.Queue(segment=segment, name="work", maxsize=1000)
    started = [peer("consume", "work") for _ in range(consumers)]
    values = [(i * 2654435761) % (1 << 40) for i in range(count)]
    for value in values:
        q.put(value)
    for _ in range(consumers):
        q.put(None)
    totals = [tuple(map(int, finish(p).split())) for p in started]
    assert sum(t[0] for t in totals) == count
    assert sum(t[1] for t in totals) == sum(values)
    assert sum(t[2] for t in totals) % (1 << 64) == sum(v * v for v in values) % (1 << 64)


def test_opening_with_another_codec_or_type_is_kind_mismatch(segment, peer):
    shmbus.Queue(segment=segment, name="packed")
    shmbus.Value("i", 1, segment=segment, name="int32")
    finish(peer("wrong-kinds"))
    finish(peer("make-cereal-queue", "cereal"))
    with pytest.raises(shmbus.KindMismatch):
        shmbus.Queue(segment=segment, name="cereal")
    with pytest.raises(shmbus.KindMismatch):
        shmbus.JoinableQueue(segment=segment, name="packed")


def test_get_and_put_time_out_as_python_queues_do(segment):
    q = shmbus.Queue(1, segment=segment, name="one")
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    q.put("x")
    assert q.full()
    with pytest.raises(queue.Full):
        q.put("y", timeout=0.05)
    with pytest.raises(queue.Full):
        q.put_nowait("y")
    assert q.qsize() == 1 and q.get() == "x" and q.empty()


def test_closed_queue_refuses_puts(segment):
    q = shmbus.Queue(segment=segment, name="q")
    q.close()
    with pytest.raises(shmbus.Closed):
        q.put(1)


def test_shutdown_as_python_3_13(segment):
    q = shmbus.Queue(segment=segment, name="q")
    q.put(1)
    q.put(2)
    q.shutdown()
    assert q.is_shutdown
    with pytest.raises(shmbus.ShutDown):
        q.put(3)
    assert q.get() == 1
    jq = shmbus.JoinableQueue(segment=segment, name="jobs")
    jq.put("job")
    jq.shutdown(immediate=True)
    jq.join()  # the dropped item counts as done
    with pytest.raises(shmbus.Closed):  # ShutDown is a Closed
        jq.get()


def test_keyboard_interrupt_ends_a_blocking_get_promptly(segment):
    q = shmbus.Queue(segment=segment, name="never")
    assert_interrupted_promptly(q.get)


def _produce(segment_name, count):
    q = shmbus.Queue(segment=shmbus.Segment.open(segment_name), name="pp")
    for i in range(count):
        q.put({"i": i, "text": "x" * (i % 50)})


def test_queue_between_python_processes(segment):
    q = shmbus.Queue(segment=segment, name="pp")
    context = multiprocessing.get_context("fork")
    producers = [context.Process(target=_produce, args=(segment.name, 500)) for _ in range(2)]
    for p in producers:
        p.start()
    got = [q.get(timeout=20) for _ in range(1000)]
    for p in producers:
        p.join(20)
        assert p.exitcode == 0
    assert sorted(item["i"] for item in got) == sorted(list(range(500)) * 2)


def test_joinable_and_simple_queues(segment):
    jq = shmbus.JoinableQueue(segment=segment, name="jobs")
    jq.put("job")
    assert jq.get() == "job"
    jq.task_done()
    jq.join()
    sq = shmbus.SimpleQueue(segment=segment, name="simple")
    sq.put([1, 2])
    assert sq.get() == [1, 2] and sq.empty()


class _ChattyDict(dict):
    """A dict whose items() runs Python code mid-pack, letting other threads pack meanwhile."""

    def items(self):
        time.sleep(0)
        return super().items()


def test_values_packed_by_many_threads_arrive_whole(segment):
    q = shmbus.Queue(segment=segment, name="threads")
    with pytest.raises(TypeError):
        q.put(object())  # not MessagePack: nothing is sent, and the packer stays usable

    def put_many(thread):
        for i in range(300):
            q.put(_ChattyDict(thread=thread, i=i, text="x" * (i % 40)))

    threads = [threading.Thread(target=put_many, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    got = [q.get(timeout=20) for _ in range(1200)]
    for thread in threads:
        thread.join()
    assert sorted((item["thread"], item["i"]) for item in got) == \
        sorted((t, i) for t in range(4) for i in range(300))
    assert all(item["text"] == "x" * (item["i"] % 40) for item in got)
