"""SharedClient: one client for all operations, never closed under one in flight, and
made anew (the parent's left open) in a forked child."""

from __future__ import annotations

import os
import threading

import pytest

from sessionstore.clients import SharedClient
from sessionstore.testing.forking import run_in_fork


class Client:
    """A client that knows whether it was closed, and how often."""

    made = 0

    def __init__(self) -> None:
        Client.made += 1
        self.number = Client.made
        self.closes = 0


def close(client: Client) -> None:
    client.closes += 1


@pytest.fixture
def shared() -> SharedClient[Client]:
    Client.made = 0
    return SharedClient(Client, close)


def test_one_client_made_on_first_use_and_shared(shared: SharedClient[Client]) -> None:
    assert Client.made == 0
    with shared.using() as first, shared.using() as second:
        assert first is second
    with shared.using() as again:
        assert again is first
    assert Client.made == 1


def test_close_when_unused_closes_now_and_the_next_use_makes_another(
    shared: SharedClient[Client],
) -> None:
    with shared.using() as first:
        pass
    shared.close()
    assert first.closes == 1
    shared.close()  # again: nothing left to close
    assert first.closes == 1
    with shared.using() as second:
        assert second is not first
    assert second.closes == 0


def test_close_before_any_use_makes_and_closes_nothing(shared: SharedClient[Client]) -> None:
    shared.close()
    assert Client.made == 0


def test_a_client_in_use_is_closed_by_its_last_operation(shared: SharedClient[Client]) -> None:
    with shared.using() as old:
        with shared.using():
            shared.close()
            assert old.closes == 0  # two operations still use it
            with shared.using() as new:
                assert new is not old  # operations begun after the close get a new one
        assert old.closes == 0
    assert old.closes == 1
    assert new.closes == 0
    shared.close()
    assert new.closes == 1


def test_an_operation_that_raises_still_lets_its_client_close(
    shared: SharedClient[Client],
) -> None:
    used: list[Client] = []

    def failing_operation() -> None:
        with shared.using() as client:
            used.append(client)
            shared.close()
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_operation()
    assert used[0].closes == 1


def test_operations_in_many_threads_close_the_client_once() -> None:
    Client.made = 0
    shared: SharedClient[Client] = SharedClient(Client, close)
    made: list[Client] = []
    barrier = threading.Barrier(9)

    def operation() -> None:
        with shared.using() as client:
            made.append(client)
            barrier.wait(timeout=10)  # all inside: the close comes now
            barrier.wait(timeout=10)

    threads = [threading.Thread(target=operation) for _ in range(8)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=10)
    shared.close()
    assert made[0].closes == 0
    barrier.wait(timeout=10)
    for thread in threads:
        thread.join(timeout=10)
    assert {id(client) for client in made} == {id(made[0])}
    assert made[0].closes == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_makes_its_own_client_and_leaves_the_parents_open(
    shared: SharedClient[Client],
) -> None:
    with shared.using() as parents:
        pass

    def in_the_child() -> None:
        with shared.using() as childs:
            assert childs is not parents
        shared.close()
        assert childs.closes == 1
        assert parents.closes == 0

    run_in_fork(in_the_child)
    assert parents.closes == 0
    with shared.using() as again:
        assert again is parents
