# SPDX-License-Identifier: Apache-2.0
"""Manager().dict() / .list(), Condition and Barrier, across Python and C++."""
import pytest

import shmbus
from conftest import finish


def test_manager_dict_and_list_across_python_and_cpp(segment, peer):
    manager = shmbus.Manager(segment=segment)
    scores = manager.dict(name="scores", capacity_bytes=4096)
    names = manager.list(name="names", capacity_bytes=4096)
    scores["python"] = 7
    names.extend(["a", "b"])
    finish(peer("manager"))
    assert scores.copy() == {"python": 7, "c++": 9}
    assert names.copy() == ["a", "b", "from c++"]


def test_manager_containers_follow_python(segment):
    manager = shmbus.Manager(segment=segment)
    d = manager.dict(name="d", capacity_bytes=4096)
    d.update({"x": [1, 2], "y": {"z": None}})
    assert "x" in d and len(d) == 2 and list(d) == ["x", "y"]
    assert d["y"] == {"z": None} and d.get("missing", 3) == 3
    assert d.pop("x") == [1, 2] and d.pop("x", "gone") == "gone"
    assert d.setdefault("w", 5) == 5 and d.items() == [("y", {"z": None}), ("w", 5)]
    with pytest.raises(KeyError):
        d["x"]
    del d["w"]
    assert d.keys() == ["y"]
    lst = manager.list(name="l", capacity_bytes=4096)
    lst.extend([1, "two", 3.0])
    lst.insert(0, b"zero")
    lst[-1] = 4.0
    assert list(lst) == [b"zero", 1, "two", 4.0] and lst[1] == 1
    assert lst.index("two") == 2 and lst.count(1) == 1 and "two" in lst
    lst.remove("two")
    with pytest.raises(ValueError):
        lst.remove("two")
    assert lst.pop() == 4.0 and len(lst) == 2
    with pytest.raises(IndexError):
        lst[5]
    with pytest.raises(shmbus.KindMismatch):
        manager.dict(name="l")


def test_popitem_sort_reverse_and_list_arithmetic_follow_python(segment):
    manager = shmbus.Manager(segment=segment)
    d = manager.dict(name="d", capacity_bytes=4096)
    d["a"], d["b"] = 1, 2
    assert d.popitem() == ("b", 2) and d.popitem() == ("a", 1)
    with pytest.raises(KeyError):
        d.popitem()
    lst = manager.list(name="l", capacity_bytes=4096)
    lst.extend([3, 1, 2])
    lst.sort()
    assert list(lst) == [1, 2, 3]
    lst.sort(key=lambda v: -v)
    assert list(lst) == [3, 2, 1]
    lst.sort(reverse=True, key=lambda v: v % 2)
    assert list(lst) == [3, 1, 2]
    lst.reverse()
    assert list(lst) == [2, 1, 3]
    lst += [4]
    lst *= 2
    assert list(lst) == [2, 1, 3, 4, 2, 1, 3, 4]
    with pytest.raises(ZeroDivisionError):
        lst.sort(key=lambda v: 1 / 0)
    assert list(lst) == [2, 1, 3, 4, 2, 1, 3, 4]


def test_barrier_and_condition_across_python_and_cpp(segment, peer):
    meet = shmbus.Barrier(2, segment=segment, name="meet")
    changed = shmbus.Condition(segment=segment, name="changed")
    flag = shmbus.Value("i", 0, segment=segment, name="flag")
    process = peer("barrier-and-condition")
    with changed:
        assert meet.wait(timeout=20) in (0, 1)
        assert changed.wait_for(lambda: flag.value == 1, timeout=20)
    finish(process)


def test_condition_wait_times_out_and_barrier_breaks(segment):
    lock = shmbus.Lock(segment=segment, name="lock")
    condition = shmbus.Condition(lock, segment=segment, name="c")
    with condition:
        assert condition.wait(timeout=0.05) is False
        assert condition.wait_for(lambda: False, timeout=0.05) is False
    barrier = shmbus.Barrier(2, segment=segment, name="b")
    with pytest.raises(shmbus.BrokenBarrierError):
        barrier.wait(timeout=0.05)
    assert barrier.broken
    barrier.reset()
    assert not barrier.broken and barrier.parties == 2


def test_barrier_action_timeout_and_party_count_follow_python(segment):
    import threading

    rounds = []
    barrier = shmbus.Barrier(2, lambda: rounds.append(len(rounds)), 30, segment=segment, name="a")
    indices = []
    worker = threading.Thread(target=lambda: indices.append(barrier.wait()))
    worker.start()
    indices.append(barrier.wait())
    worker.join()
    assert sorted(indices) == [0, 1] and rounds == [0]

    def fail():
        raise ZeroDivisionError("action")

    failing = shmbus.Barrier(2, action=fail, segment=segment, name="f")
    broken = []

    def other():
        try:
            failing.wait(timeout=30)
        except shmbus.BrokenBarrierError:
            broken.append(True)

    worker = threading.Thread(target=other)
    worker.start()
    while failing.n_waiting != 1:
        threading.Event().wait(0.001)
    with pytest.raises(ZeroDivisionError):
        failing.wait(timeout=30)
    worker.join()
    assert broken == [True] and failing.broken

    timed = shmbus.Barrier(2, timeout=0.05, segment=segment, name="t")
    with pytest.raises(shmbus.BrokenBarrierError):
        timed.wait()
    with pytest.raises(shmbus.UsageError):
        shmbus.Barrier(-1, segment=segment, name="n")
