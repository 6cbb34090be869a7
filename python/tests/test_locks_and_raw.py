# SPDX-License-Identifier: Apache-2.0
"""RawValue, RawArray and the lock= of Value and Array, as in Python's multiprocessing."""
import multiprocessing

import pytest

import shmbus


def test_raw_value_and_raw_array_have_no_lock_and_are_shared_with_children(segment):
    count = shmbus.RawValue("i", 5, segment=segment, name="count")
    samples = shmbus.RawArray("d", [0.5, 1.5], segment=segment, name="samples")
    assert not hasattr(count, "get_lock") and not hasattr(samples, "get_lock")

    def work():
        count.value += 1
        samples[1] = 2.5
    process = multiprocessing.get_context("fork").Process(target=work)
    process.start()
    process.join(20)
    assert process.exitcode == 0
    assert count.value == 6 and samples[:] == [0.5, 2.5]
    assert shmbus.RawValue("i", segment=segment, name="count").value == 6  # opened by name
    assert shmbus.RawArray("d", 2, segment=segment, name="samples").tolist() == [0.5, 2.5]


def test_lock_false_gives_a_raw_object(segment):
    value = shmbus.Value("q", 3, lock=False)
    array = shmbus.Array("c", b"ab", lock=False)
    assert type(value).__name__ == "RawValue_q" and type(array).__name__ == "RawArray_c"
    assert value.value == 3 and array.value == b"ab"
    assert hasattr(shmbus.Value("q", lock=True), "get_lock")
    assert hasattr(shmbus.Array("q", 1, lock=None), "get_lock")


def test_a_given_lock_or_rlock_guards_the_value(segment):
    ledger = shmbus.Lock(segment=segment, name="ledger")
    debit = shmbus.Value("i", 0, lock=ledger, segment=segment, name="debit")
    credit = shmbus.Array("i", 2, lock=ledger, segment=segment, name="credit")
    with debit.get_lock():
        assert not ledger.acquire(block=False)  # the same Lock
        assert not credit.get_lock().acquire(block=False)
        debit.value = 10
    assert ledger.acquire(block=False)
    ledger.release()
    recursive = shmbus.RLock()
    guarded = shmbus.Value("d", 1.0, lock=recursive)
    with guarded.get_lock():
        with recursive:  # recursive: the same RLock, held by this thread
            guarded.value = 2.0
    assert guarded.value == 2.0 and debit.value == 10


def test_get_obj_is_the_same_memory_without_the_lock(segment):
    value = shmbus.Value("i", 1, segment=segment, name="v")
    raw = value.get_obj()
    raw.value = 7
    assert value.value == 7 and not hasattr(raw, "get_lock")
    array = shmbus.Array("u", "ab", lock=shmbus.Lock())
    array.get_obj()[0] = "z"
    assert array[:] == "zb"


def test_lock_takes_only_booleans_none_and_shmbus_locks():
    with pytest.raises(TypeError):
        shmbus.Value("i", 0, lock="yes")
    with pytest.raises(TypeError):
        shmbus.Array("i", 1, lock=multiprocessing.Lock())
