# SPDX-License-Identifier: Apache-2.0
"""shmbus.Topic between Python and C++ (Topic<T, MsgpackCodec>) and between Python processes."""
import multiprocessing
import os
import queue
import threading
import time

import msgpack
import pytest

import shmbus
from conftest import PEER_TIMEOUT, assert_interrupted_promptly, finish

ORDER = {"symbol": "ACME", "quantity": -3, "prices": [1.5, 2.25], "note": None}
RAW = b"\x00\xff\x07"  # peer.hpp's kBytes


def order(i):
    """The order numbered i, as peer_topics.cpp's numbered(i) makes it."""
    return dict(ORDER, quantity=i)


def start_subscribers(segment, peer, count, name, first):
    """Starts `count` C++ subscribers of topic `name` expecting orders from number `first` on,
    and waits until each has subscribed (released Semaphore "subscribed")."""
    ready = shmbus.Semaphore(0, segment=segment, name="subscribed")
    started = [peer("topic-subscribe", name, str(first)) for _ in range(count)]
    for _ in started:
        assert ready.acquire(timeout=PEER_TIMEOUT), "a peer never subscribed"
    return started


def test_python_publisher_reaches_cpp_and_python_subscribers_in_order(segment, peer):
    count = 200
    topic = shmbus.Topic(segment, "orders", capacity=256, max_message_size=256)
    mine = [topic.subscribe() for _ in range(2)]
    theirs = start_subscribers(segment, peer, 2, "orders", 0)
    for i in range(count):
        topic.publish(order(i))
    topic.publish(None)
    topic.publish_bytes(RAW)
    assert [int(finish(p)) for p in theirs] == [count, count]
    for subscriber in mine:
        assert [subscriber.recv(timeout=10) for _ in range(count + 1)] == \
            [order(i) for i in range(count)] + [None]
        assert subscriber.recv_bytes(timeout=10) == RAW
    assert topic.messages_in == count + 2


def test_cpp_publisher_reaches_python_subscribers_in_order(segment, peer):
    count = 100
    topic = shmbus.Topic(segment, "orders", capacity=8, max_message_size=256)
    subscribers = [topic.subscribe() for _ in range(3)]
    publisher = peer("topic-publish", "orders", str(count))
    got = [[] for _ in subscribers]
    # Round robin: under "block" the C++ publisher waits for the slowest of them.
    for _ in range(count + 1):
        for subscriber, messages in zip(subscribers, got):
            messages.append(subscriber.recv(timeout=PEER_TIMEOUT))
    for subscriber in subscribers:
        assert subscriber.recv_bytes(timeout=PEER_TIMEOUT) == RAW
    finish(publisher)
    assert got == [[order(i) for i in range(count)] + [None]] * len(subscribers)


def test_a_late_cpp_subscriber_starts_with_the_history(segment, peer):
    topic = shmbus.Topic(segment, "orders", capacity=16, max_message_size=256, history=3)
    for i in range(10):
        topic.publish(order(i))
    [late] = start_subscribers(segment, peer, 1, "orders", 7)
    for i in range(10, 15):
        topic.publish(order(i))
    topic.publish(None)
    topic.publish_bytes(RAW)
    assert int(finish(late)) == 8  # 7, 8, 9 from the history, then 10 .. 14


def test_a_late_python_subscriber_starts_with_the_history(segment):
    topic = shmbus.Topic(segment, "t", capacity=8, history=2)
    early = topic.subscribe()
    for i in range(5):
        topic.publish(i)
    late = topic.subscribe()
    assert [late.recv(), late.recv()] == [3, 4]
    assert [early.recv() for _ in range(5)] == list(range(5))
    assert topic.history == 2 and topic.capacity == 8 and topic.slow_subscriber == "block"


def test_overwrite_reports_the_lost_messages_then_goes_on(segment):
    topic = shmbus.Topic(segment, "t", capacity=4, slow_subscriber="overwrite")
    subscriber = topic.subscribe()
    for i in range(10):
        topic.publish(i, block=False)  # overwrite never waits
    assert subscriber.pending >= 4
    with pytest.raises(shmbus.Lagged) as lagged:
        subscriber.recv()
    assert lagged.value.missed == 6 and isinstance(lagged.value, shmbus.Error)
    assert [subscriber.recv() for _ in range(4)] == [6, 7, 8, 9]
    assert subscriber.dropped == 6 and subscriber.pending == 0
    for i in range(5):
        topic.publish_bytes(bytes([i]))
    with pytest.raises(shmbus.Lagged) as lagged:
        subscriber.recv_bytes()
    assert lagged.value.missed == 1
    assert subscriber.recv_bytes() == b"\x01" and subscriber.dropped == 7


def test_timeouts_raise_queue_empty_and_queue_full(segment):
    topic = shmbus.Topic(segment, "t", capacity=2)
    subscriber = topic.subscribe()
    with pytest.raises(queue.Empty):
        subscriber.recv(timeout=0.05)
    with pytest.raises(queue.Empty):
        subscriber.recv_nowait()
    with pytest.raises(queue.Empty):
        subscriber.recv_bytes(block=False)
    topic.publish("a")
    topic.publish("b")
    with pytest.raises(queue.Full):  # the subscriber is a whole ring behind
        topic.publish("c", timeout=0.05)
    with pytest.raises(queue.Full):
        topic.publish_nowait("c")
    with pytest.raises(queue.Full):
        topic.publish_bytes(b"c", block=False)
    assert subscriber.recv() == "a"
    topic.publish("c")
    assert [subscriber.recv(), subscriber.recv()] == ["b", "c"]
    with pytest.raises(shmbus.MessageTooLarge):
        topic.publish("x" * topic.max_message_size)


def test_raw_bytes_and_msgpack_values_share_a_topic(segment):
    topic = shmbus.Topic(segment, "t")
    subscriber = topic.subscribe()
    topic.publish({"a": [1, 2.5, None]})
    topic.publish_bytes(bytearray(b"raw"))
    topic.publish_bytes(memoryview(b""))
    assert subscriber.recv_bytes() == msgpack.packb({"a": [1, 2.5, None]}, use_bin_type=True)
    assert subscriber.recv_bytes() == b"raw"
    assert subscriber.recv_bytes() == b""


def test_opening_with_another_codec_is_kind_mismatch_both_ways(segment, peer):
    shmbus.Topic(segment, "packed")
    finish(peer("topic-wrong-kinds", "packed"))
    finish(peer("topic-make-cereal", "cereal"))
    with pytest.raises(shmbus.KindMismatch):
        shmbus.Topic(segment, "cereal")
    shmbus.Queue(segment=segment, name="queue")
    with pytest.raises(shmbus.KindMismatch):
        shmbus.Topic(segment, "queue")


def test_a_closed_subscriber_holds_no_publisher(segment):
    topic = shmbus.Topic(segment, "t", capacity=2)
    with topic.subscribe() as subscriber:
        topic.publish(1)
        assert not subscriber.closed
    assert subscriber.closed
    for i in range(5):
        topic.publish(i, timeout=10)  # nobody is behind any more
    with pytest.raises(shmbus.Closed):
        subscriber.recv()
    with pytest.raises(ValueError):
        shmbus.Topic(segment, "other", slow_subscriber="drop")
    with pytest.raises(shmbus.UsageError):
        shmbus.Topic(segment, "other", capacity=4, history=5)


def test_keyboard_interrupt_ends_a_blocking_recv_promptly(segment):
    subscriber = shmbus.Topic(segment, "never").subscribe()
    assert_interrupted_promptly(subscriber.recv)


def _publish_from_child(topic, subscriber, count):
    try:
        subscriber.recv(block=False)
    except shmbus.UsageError:  # the subscriber is the parent's
        pass
    else:
        os._exit(2)
    for i in range(count):
        topic.publish({"pid": os.getpid(), "i": i})


def test_forked_children_publish_through_an_inherited_topic(segment):
    topic = shmbus.Topic(segment, capacity=16)  # anonymous: reaches children by fork
    subscriber = topic.subscribe()
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_publish_from_child, args=(topic, subscriber, 100))
                for _ in range(2)]
    for child in children:
        child.start()
    got = [subscriber.recv(timeout=PEER_TIMEOUT) for _ in range(200)]
    for child in children:
        child.join(PEER_TIMEOUT)
        assert child.exitcode == 0
    for child in children:  # each publisher's own order holds
        assert [m["i"] for m in got if m["pid"] == child.pid] == list(range(100))


def _use_handles_a_parent_thread_waits_in(waited_on, full_topic):
    try:
        waited_on.recv(block=False)
    except shmbus.UsageError:  # reached its own check: the handle's turn was free here
        pass
    else:
        os._exit(2)
    try:
        full_topic.publish("from the child", timeout=0.05)
    except queue.Full:
        pass
    else:
        os._exit(3)


def test_a_child_forked_while_parent_threads_wait_in_handles_can_use_them(segment):
    quiet = shmbus.Topic(segment, capacity=2)
    waited_on = quiet.subscribe()
    full_topic = shmbus.Topic(segment, capacity=2)
    behind = full_topic.subscribe()
    full_topic.publish(0)
    full_topic.publish(1)
    got = []
    waiters = [threading.Thread(target=lambda: got.append(waited_on.recv(timeout=PEER_TIMEOUT))),
               threading.Thread(target=lambda: full_topic.publish(2, timeout=PEER_TIMEOUT))]
    for thread in waiters:
        thread.start()
    time.sleep(0.3)  # both threads now wait inside a call, each holding its handle's turn
    child = multiprocessing.get_context("fork").Process(
        target=_use_handles_a_parent_thread_waits_in, args=(waited_on, full_topic))
    child.start()
    child.join(PEER_TIMEOUT)
    hung = child.is_alive()
    if hung:
        child.kill()
        child.join()
    quiet.publish("wake")
    assert [behind.recv(timeout=PEER_TIMEOUT) for _ in range(3)] == [0, 1, 2]
    for thread in waiters:
        thread.join(PEER_TIMEOUT)
    assert not hung and child.exitcode == 0
    assert got == ["wake"]


def test_threads_take_turns_on_one_subscriber(segment):
    topic = shmbus.Topic(segment, "t", capacity=64)
    subscriber = topic.subscribe()
    got = []

    def receive():
        for _ in range(50):
            got.append(subscriber.recv(timeout=PEER_TIMEOUT))

    threads = [threading.Thread(target=receive) for _ in range(2)]
    for thread in threads:
        thread.start()
    for i in range(100):
        topic.publish(i, timeout=PEER_TIMEOUT)
    for thread in threads:
        thread.join()
    assert sorted(got) == list(range(100))
