# SPDX-License-Identifier: Apache-2.0
"""Lock, Semaphore, Event, Value and Array shared by a Python and a C++ process."""
import multiprocessing

import pytest

import shmbus
from conftest import finish


def test_sync_objects_and_values_across_python_and_cpp(segment, peer):
    counter = shmbus.Value("i", 0, segment=segment, name="counter")
    ratio = shmbus.Value("d", 0.0, segment=segment, name="ratio")
    squares = shmbus.Array("q", 10, segment=segment, name="squares")
    given = shmbus.Array("d", [0.5, 1.5, -2.0], segment=segment, name="given")
    lock = shmbus.Lock(segment=segment, name="lock")
    slots = shmbus.Semaphore(0, segment=segment, name="slots")
    go = shmbus.Event(segment=segment, name="go")
    done = shmbus.Event(segment=segment, name="done")
    lock.acquire()
    process = peer("sync-and-values")
    for _ in range(1000):
        with counter.get_lock():
            counter.value += 1
    # The peer takes the lock (after we release it) and then releases two slots.
    lock.release()
    assert slots.acquire(timeout=20) and slots.acquire(timeout=20)
    assert not slots.acquire(block=False)
    go.set()
    assert done.wait(timeout=20)
    finish(process)
    assert counter.value == 2000
    assert ratio.value == 2.5
    assert squares[:] == [i * i for i in range(10)] and squares[-1] == 81
    assert given.tolist() == [0.5, 1.5, -2.0]


def test_typecodes_are_checked_on_open(segment):
    shmbus.Value("i", 7, segment=segment, name="v")
    assert shmbus.Value("i", 0, segment=segment, name="v").value == 7  # opened, not reset
    with pytest.raises(shmbus.KindMismatch):
        shmbus.Value("d", segment=segment, name="v")
    with pytest.raises(shmbus.KindMismatch):
        shmbus.Value("I", segment=segment, name="v")
    shmbus.Array("h", [1, 2, 3], segment=segment, name="a")
    with pytest.raises(shmbus.KindMismatch):
        shmbus.Array("h", 4, segment=segment, name="a")
    with pytest.raises(ValueError):
        shmbus.Value("x", segment=segment, name="bad")


def test_array_indexing_follows_python(segment):
    a = shmbus.Array("i", [1, 2, 3, 4], segment=segment, name="a")
    a[1:3] = [20, 30]
    assert list(a) == [1, 20, 30, 4] and a[::2] == [1, 30] and len(a) == 4
    with pytest.raises(IndexError):
        a[4]
    with pytest.raises(ValueError):
        a[0:2] = [1]


def test_bounded_semaphore_and_rlock(segment):
    bounded = shmbus.BoundedSemaphore(1, segment=segment, name="b")
    with pytest.raises(shmbus.UsageError):
        bounded.release()
    rlock = shmbus.RLock(segment=segment, name="r")
    with rlock:
        with rlock:
            pass


def _hold_lock_then_signal(segment_name):
    segment = shmbus.Segment.open(segment_name)
    lock = shmbus.Lock(segment=segment, name="l")
    lock.acquire()
    shmbus.Event(segment=segment, name="held").set()
    shmbus.Event(segment=segment, name="release").wait(timeout=20)
    lock.release()


def test_lock_and_events_between_python_processes(segment):
    lock = shmbus.Lock(segment=segment, name="l")
    held = shmbus.Event(segment=segment, name="held")
    release = shmbus.Event(segment=segment, name="release")
    child = multiprocessing.get_context("fork").Process(target=_hold_lock_then_signal,
                                                        args=(segment.name,))
    child.start()
    assert held.wait(timeout=20)
    assert not lock.acquire(timeout=0.05)
    release.set()
    assert lock.acquire(timeout=20)
    lock.release()
    child.join(20)
    assert child.exitcode == 0


def test_joinable_and_simple_queues_rlock_and_bounded_semaphore_with_cpp(segment, peer):
    jobs = shmbus.JoinableQueue(segment=segment, name="jobs")
    results = shmbus.SimpleQueue(segment=segment, name="results")
    recursive = shmbus.RLock(segment=segment, name="r")
    bounded = shmbus.BoundedSemaphore(1, segment=segment, name="b")
    recursive.acquire()
    process = peer("joinable-worker")
    for job in ["a", "b", "c"]:
        jobs.put(job)
    jobs.put(None)
    recursive.release()  # the worker takes the RLock only now, then the semaphore's one slot
    jobs.join()
    assert [results.get() for _ in range(3)] == ["a done", "b done", "c done"]
    finish(process)
    assert bounded.acquire(timeout=20)  # given back by the worker
    bounded.release()
    assert recursive.acquire(timeout=20)
    recursive.release()
