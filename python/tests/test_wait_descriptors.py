# SPDX-License-Identifier: Apache-2.0
"""shmbus.wait over file descriptors next to shmbus objects, as multiprocessing.connection.wait
takes them: ints (a multiprocessing.Process's sentinel, an os.pipe end) and objects with
fileno() (a socket). multiprocessing's own wait is the model where it can see the objects."""
import multiprocessing
import multiprocessing.connection
import os
import socket
import time

import pytest

import shmbus

fork = multiprocessing.get_context("fork")


def python_wait(objects):
    """multiprocessing's answer now, in list order (its own order is the selector's)."""
    ready = multiprocessing.connection.wait(objects, 0)
    return [one for one in objects if any(one is other for other in ready)]


def _exit_after(seconds):
    time.sleep(seconds)


def _put_later(queue):
    time.sleep(0.05)
    queue.put("late")


def test_a_process_sentinel_is_ready_once_the_process_ends(segment):
    queue = shmbus.Queue(segment=segment)
    quick = fork.Process(target=_exit_after, args=(0.05,))
    slow = fork.Process(target=_exit_after, args=(30,))
    quick.start()
    slow.start()
    try:
        assert shmbus.wait([queue, slow.sentinel, quick.sentinel], timeout=30) == [quick.sentinel]
        assert python_wait([slow.sentinel, quick.sentinel]) == [quick.sentinel]
        # A Queue put by another process ends a wait that also holds a running child's sentinel.
        putter = fork.Process(target=_put_later, args=(queue,))
        putter.start()
        assert shmbus.wait([slow.sentinel, queue], timeout=30) == [queue]
        assert queue.get(timeout=5) == "late"
        putter.join(20)
        slow.kill()  # killed: it runs no code, the pidfd tells all the same
        assert shmbus.wait([queue, slow.sentinel], timeout=30) == [slow.sentinel]
    finally:
        for process in (quick, slow):
            process.kill()
            process.join(20)


def _write_later(fd):
    time.sleep(0.05)
    os.write(fd, b"x")


def test_a_pipe_end_and_a_socket_are_ready_when_readable(segment):
    event = shmbus.Event(segment=segment)
    read_end, write_end = os.pipe()
    left, right = socket.socketpair()
    try:
        objects = [event, read_end, left]
        assert shmbus.wait(objects, timeout=0) == []
        writer = fork.Process(target=_write_later, args=(write_end,))
        writer.start()
        assert shmbus.wait(objects, timeout=30) == [read_end]
        writer.join(20)
        assert os.read(read_end, 1) == b"x"  # wait consumed nothing
        right.send(b"y")
        assert shmbus.wait(objects, timeout=30) == [left]
        assert python_wait([read_end, left]) == [left]
        os.close(write_end)
        write_end = -1
        event.set()
        assert shmbus.wait(objects, timeout=30) == objects  # end of file is readable
        assert python_wait([read_end, left]) == [read_end, left]
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)
        left.close()
        right.close()


def test_descriptors_that_cannot_be_waited_for_raise():
    with pytest.raises(ValueError):
        shmbus.wait([-1], 0)
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    with pytest.raises(shmbus.UsageError):
        shmbus.wait([read_end], 0)
    with pytest.raises(TypeError):
        shmbus.wait(["not a descriptor"], 0)
