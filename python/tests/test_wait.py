# SPDX-License-Identifier: Apache-2.0
"""shmbus.wait: multiprocessing.connection.wait over Connections, Queues, Events, Semaphores."""
import multiprocessing
import os
import signal
import threading
import time

import pytest

import shmbus


def test_wait_returns_the_ready_objects_in_list_order(segment):
    reader, writer = shmbus.Pipe(False, segment=segment)
    queue = shmbus.Queue(segment=segment)
    simple = shmbus.SimpleQueue(segment=segment)
    event = shmbus.Event(segment=segment)
    slots = shmbus.BoundedSemaphore(1, segment=segment)
    slots.acquire()
    objects = [reader, queue, simple, event, slots]
    assert shmbus.wait(objects, timeout=0) == []
    queue.put(1)
    event.set()
    ready = shmbus.wait(objects, timeout=5)
    assert ready == [queue, event] and ready[0] is queue
    writer.send("x")
    simple.put(2)
    slots.release()
    assert shmbus.wait(objects) == objects
    assert slots.acquire(block=False)  # waiting acquired nothing


def test_wait_with_a_timeout_returns_nothing_when_nothing_comes(segment):
    event = shmbus.Event(segment=segment)
    started = time.monotonic()
    assert shmbus.wait([event], 0.2) == []
    assert time.monotonic() - started >= 0.15


def _send_later(connection):
    time.sleep(0.1)
    connection.send("late")


def test_wait_wakes_when_another_process_sends(segment):
    parent, child = shmbus.Pipe(segment=segment)
    queue = shmbus.JoinableQueue(segment=segment)
    process = multiprocessing.get_context("fork").Process(target=_send_later, args=(child,))
    process.start()
    assert shmbus.wait([queue, parent], timeout=30) == [parent]
    assert parent.recv() == "late"
    process.join(20)
    assert process.exitcode == 0


def test_wait_refuses_other_objects_and_an_endless_empty_wait(segment):
    with pytest.raises(TypeError):
        shmbus.wait([shmbus.Lock(segment=segment)])
    with pytest.raises(shmbus.UsageError):
        shmbus.wait([])
    assert shmbus.wait([], 0) == []


def test_keyboard_interrupt_ends_a_blocking_wait(segment):
    event = shmbus.Event(segment=segment)

    def interrupt():
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            shmbus.wait([event])  # the signal handler runs within a 50 ms slice
    finally:
        thread.join()
