# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the shmbus Python tests: a scoped segment and the C++ peer (peer.cpp).

Run from ctest (python.pytest), which sets PYTHONPATH to the built module and
SHMBUS_PYTHON_PEER to the peer program; by hand:
    PYTHONPATH=build/python/module SHMBUS_PYTHON_PEER=build/python/shmbus_python_peer \
        /usr/bin/python3 -m pytest python/tests
"""
import os
import signal
import subprocess
import threading
import time
import uuid

import pytest

import shmbus

PEER_TIMEOUT = 60


@pytest.fixture
def segment():
    """A fresh named segment, unlinked when the test ends, whatever happened."""
    name = "shmbus-pytest-" + uuid.uuid4().hex[:12]
    created = shmbus.Segment.create(name, 16 << 20)
    try:
        yield created
    finally:
        shmbus.Segment.unlink(name)


@pytest.fixture
def peer(segment):
    """Starts the C++ peer on the test's segment: peer(part, *args) -> Popen."""
    program = os.environ.get("SHMBUS_PYTHON_PEER")
    if not program:
        pytest.skip("SHMBUS_PYTHON_PEER is not set (run through ctest)")
    started = []

    def start(part, *args):
        process = subprocess.Popen([program, segment.name, part, *args],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield start
    for process in started:  # every child reaped, even when the test failed
        if process.poll() is None:
            process.kill()
        process.communicate()


def assert_interrupted_promptly(blocking_call):
    """Sends this process SIGINT 0.2 s into blocking_call(), which must then raise
    KeyboardInterrupt within 0.5 s: the module's waits run the signal handlers every 50 ms."""
    sent = []

    def interrupt():
        time.sleep(0.2)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            blocking_call()
        assert time.monotonic() - sent[0] < 0.5
    finally:
        thread.join()


def finish(process):
    """Waits for a peer; its stdout when it exited 0, else the test fails with its stderr."""
    out, err = process.communicate(timeout=PEER_TIMEOUT)
    assert process.returncode == 0, f"peer failed ({process.returncode}): {err}"
    return out


try:
    from hypothesis import settings
except ImportError:  # hypothesis is only needed by test_codec_property.py
    pass
else:
    # No example database in the source tree; no per-example deadline on a loaded machine.
    settings.register_profile("shmbus", database=None, deadline=None)
    settings.load_profile("shmbus")
