# SPDX-License-Identifier: Apache-2.0
"""`with v:`, acquire/release, get_lock() and get_obj() of synchronized Values and Arrays, as
multiprocessing's Synchronized wrappers have them, across Python and C++ processes."""
import multiprocessing

import pytest

import shmbus
from conftest import finish

TIMES = 1000
PYTHON_CHILDREN = 3
CPP_PEERS = 2


def add_under_locks(count, tally, ledgered, go):
    go.wait(20)
    for _ in range(TIMES):
        with count:
            count.value += 1  # a read and a write: only the lock keeps the increment
        with tally:
            tally[0] += 1
        with ledgered:
            ledgered.value += 1


def test_with_value_loses_no_increment_across_python_and_cpp(segment, peer):
    count = shmbus.Value("i", 0, segment=segment, name="count")
    tally = shmbus.Array("q", 2, segment=segment, name="tally")
    ledger = shmbus.Lock(segment=segment, name="ledger")
    ledgered = shmbus.Value("i", 0, lock=ledger, segment=segment, name="ledgered")
    go = shmbus.Event(segment=segment, name="go")
    ready = shmbus.Semaphore(0, segment=segment, name="ready")
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=add_under_locks, args=(count, tally, ledgered, go))
                for _ in range(PYTHON_CHILDREN)]
    try:
        for child in children:
            child.start()
        peers = [peer("locked-increments", str(TIMES)) for _ in range(CPP_PEERS)]
        for _ in peers:  # every process starts adding at once
            assert ready.acquire(timeout=20)
        go.set()
        add_under_locks(count, tally, ledgered, go)
        for process in peers:
            finish(process)
    finally:
        for child in children:
            child.join(60)
            if child.is_alive():
                child.kill()
                child.join()
    assert [child.exitcode for child in children] == [0] * PYTHON_CHILDREN
    expected = TIMES * (1 + PYTHON_CHILDREN + CPP_PEERS)
    assert (count.value, tally[:], ledgered.value) == (expected, [expected, 0], expected)


def test_with_holds_the_objects_lock_as_multiprocessing_does(segment):
    value = shmbus.Value("d", 1.5)
    model = multiprocessing.Value("d", 1.5)
    with value as ours, model as theirs:
        assert ours is theirs is True
        assert value.get_lock().acquire(block=False)  # an RLock, which this thread holds
        value.get_lock().release()
    ledger = shmbus.Lock()
    array = shmbus.Array("i", 3, lock=ledger)
    with array:
        assert not ledger.acquire(block=False)  # the given Lock is what `with` holds
        array[0] = 4
    assert ledger.acquire(block=False)
    ledger.release()
    assert array.acquire() and not ledger.acquire(timeout=0.01)
    array.release()
    assert array.acquire(block=False) and array.get_obj()[0] == 4
    array.release()


@pytest.mark.parametrize("make", [lambda: shmbus.RawValue("i"), lambda: shmbus.RawArray("i", 2),
                                  lambda: shmbus.Value("i", lock=False)])
def test_raw_objects_have_no_lock_as_in_multiprocessing(make):
    raw = make()
    for name in ("get_lock", "get_obj", "acquire", "release"):
        assert not hasattr(raw, name)
    with pytest.raises((TypeError, AttributeError)):  # AttributeError before Python 3.11
        with raw:
            pass
