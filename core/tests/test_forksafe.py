"""ForkSafeLock: a child forked while another thread holds it gets it unlocked, and the
registry of live locks lets go of them. ForkGate: a fork waits for the threads inside.
Each fork is bounded by a deadline (see :mod:`sessionstore.testing.forking`), so a
regression fails rather than hangs."""

from __future__ import annotations

import gc
import os
import threading
import time
import weakref

import pytest

from sessionstore.forksafe import ForkGate, ForkSafeLock
from sessionstore.testing.forking import held_in_another_thread, run_in_fork

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def test_a_lock_held_by_another_thread_is_unlocked_in_a_forked_child() -> None:
    lock = ForkSafeLock()

    def use() -> None:
        assert not lock.locked()
        with lock:
            assert lock.locked()
        assert lock.acquire(timeout=1)
        lock.release()

    with held_in_another_thread(lock):
        run_in_fork(use)
        assert lock.locked()  # the parent's is still held, by its thread
    assert not lock.locked()


def test_every_live_lock_is_unlocked_in_the_child() -> None:
    """One hook serves every lock, however many there are and wherever they live."""
    locks = [ForkSafeLock() for _ in range(3)]

    def use_all() -> None:
        for lock in locks:
            with lock:
                pass

    with held_in_another_thread(locks[0]), held_in_another_thread(locks[2]):
        run_in_fork(use_all)


def test_the_registry_does_not_keep_locks_alive() -> None:
    """An app may build a store, and so a lock, per request: dropped ones are freed."""
    lock = ForkSafeLock()
    ref = weakref.ref(lock)
    del lock
    gc.collect()
    assert ref() is None


def test_a_fork_waits_until_the_threads_inside_a_gate_have_left() -> None:
    """SQLite hung in a child forked while another thread was inside it: with a
    gate around the calls, the fork happens only once that thread has left."""
    gate = ForkGate()
    inside, left = threading.Event(), []

    def work() -> None:
        with gate:
            inside.set()
            time.sleep(0.3)  # the fork is asked for meanwhile
            left.append(True)

    thread = threading.Thread(target=work)
    thread.start()
    assert inside.wait(5)

    def in_the_child() -> None:
        assert left == [True], "forked while a thread was inside the gate"
        with gate:  # the child's gate is empty and open
            pass

    run_in_fork(in_the_child)
    thread.join()
    with gate:  # and the parent's is open again
        pass


def test_threads_pass_a_gate_together() -> None:
    """A gate is no lock: threads inside do not wait for each other."""
    gate = ForkGate()
    both_inside = threading.Barrier(2, timeout=5)

    def work() -> None:
        with gate:
            both_inside.wait()  # broken (an error) if one waited for the other

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not both_inside.broken
