"""How many leads a list has: exact up to ``EXACT_COUNT``; above, counted by one request of a
process while the others asking wait for that count (or are served the previous one). The
lists here are filtered: without filters PostgreSQL keeps the count itself (test_lead_counts)."""

from __future__ import annotations

import threading
import time

from leadrank.db import session_scope
from leadrank.leads import service
from leadrank.leads.filters import LeadFilters
from leadrank.leads.repository import LeadRepository
from tests.web.factories import add_lead

OPEN = LeadFilters(outcome=["open"])  # every lead these tests add


def _held(monkeypatch, method: str) -> tuple[list, threading.Event]:  # noqa: ANN001
    """Make ``LeadRepository.<method>`` wait for the returned event (each call is recorded)."""
    calls, release = [], threading.Event()
    real = getattr(LeadRepository, method)

    def held(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(1)
        release.wait(10)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LeadRepository, method, held)
    return calls, release


def _count_into(ws, seen: list) -> None:  # noqa: ANN001
    """What a request opening the list does: count it (the count goes into ``seen``)."""
    with session_scope() as session:
        seen.append(service.count_leads(session, ws, OPEN))


def _open_lists(ws, n: int, seen: list, release: threading.Event) -> None:  # noqa: ANN001
    """``n`` requests counting the list at once, released together once all are asking."""
    readers = [threading.Thread(target=_count_into, args=(ws, seen)) for _ in range(n)]
    for reader in readers:
        reader.start()
    time.sleep(0.3)  # all of them are asking by now
    release.set()
    for reader in readers:
        reader.join(10)


def test_a_big_list_is_counted_once_for_everyone_asking_at_once(env, tenant, monkeypatch):  # noqa: ANN001
    ws = tenant.workspace_id
    for i in range(6):
        add_lead(ws, f"c{i}@x.test", score=float(i), grade="B")
    monkeypatch.setattr(service, "EXACT_COUNT", 3)  # six leads make a big list
    counts = service._Recent(60.0)
    monkeypatch.setattr(service, "_counts", counts)
    counting, release = _held(monkeypatch, "count")
    seen: list = []
    _open_lists(ws, 8, seen, release)
    assert len(counting) == 1
    assert [c.total for c in seen] == [6] * 8 and all(c.as_of is not None for c in seen)

    # A minute later the count is stale: one request recounts, the others see the last count
    # meanwhile instead of waiting.
    add_lead(ws, "c6@x.test", score=6.0, grade="B")
    counts.ttl = 0.0
    release.clear()
    refresher = threading.Thread(target=_count_into, args=(ws, seen))
    refresher.start()
    while len(counting) < 2:
        time.sleep(0.01)
    started = time.monotonic()
    with session_scope() as session:
        assert service.count_leads(session, ws, OPEN).total == 6
    assert time.monotonic() - started < 5
    release.set()
    refresher.join(10)
    assert seen[-1].total == 7


def test_a_small_list_is_counted_exactly_for_each_request(env, tenant, monkeypatch):  # noqa: ANN001
    ws = tenant.workspace_id
    add_lead(ws, "a@x.test", score=1.0, grade="D")
    with session_scope() as session:
        assert service.count_leads(session, ws, OPEN) == service.LeadCount(1)
    add_lead(ws, "b@x.test", score=2.0, grade="D")
    with session_scope() as session:
        assert service.count_leads(session, ws, OPEN) == service.LeadCount(2)
    # Requests arriving while it is being counted share that count (and only they do).
    counting, release = _held(monkeypatch, "count_up_to")
    seen = []
    _open_lists(ws, 4, seen, release)
    assert len(counting) == 1 and seen == [service.LeadCount(2)] * 4
    add_lead(ws, "c@x.test", score=3.0, grade="D")
    with session_scope() as session:
        assert service.count_leads(session, ws, OPEN) == service.LeadCount(3)
    assert len(counting) == 2


def test_a_page_that_will_not_wait_gets_a_lower_bound_until_the_count_is_made(env, tenant, monkeypatch):  # noqa: ANN001
    ws = tenant.workspace_id
    for i in range(6):
        add_lead(ws, f"w{i}@x.test", score=float(i), grade="B")
    monkeypatch.setattr(service, "EXACT_COUNT", 3)
    monkeypatch.setattr(service, "_counts", service._Recent(60.0))
    monkeypatch.setattr(service, "_bounded", service._Recent(60.0))
    bounded = []
    real = LeadRepository.count_up_to
    monkeypatch.setattr(LeadRepository, "count_up_to", lambda *a: bounded.append(1) or real(*a))
    counting, release = _held(monkeypatch, "count")
    started = time.monotonic()
    with session_scope() as session:
        first = service.count_leads(session, ws, OPEN, wait=False)
        again = service.count_leads(session, ws, OPEN, wait=False)  # the count is still being made
    assert time.monotonic() - started < 5
    assert first == again == service.LeadCount(3, at_least=True)
    assert len(bounded) == 1  # the second page knew the list was big: no bounded count again
    release.set()
    deadline = time.monotonic() + 10
    while service._counts.peek(service._counts_key(ws, OPEN.as_query())) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    with session_scope() as session:
        counted = service.count_leads(session, ws, OPEN, wait=False)
    assert counted.total == 6 and not counted.at_least and counted.as_of is not None
    assert len(counting) == 1  # one background count, however many pages asked
