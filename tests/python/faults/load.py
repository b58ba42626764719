"""The load driver and the fault scenario runner.

`run_load` is a FACT-style service under load: N asyncio workers each loop over
cache-first queries (get; on a miss read SQLite, the source of truth, and store the answer),
bounded by a request count and by time. It times every cache call (not SQLite) and notes the
breaker state when the call began and whether it reached Redis, and checks every answer
against SQLite.

`run_scenario` runs one fault twice against the harness's redis-server: first a short
baseline through a bare manager (no breaker: each failure costs what the manager's 50 ms
timeout costs), then the full run through `ResilientCacheWrapper`: warm-up, the fault (a key is
updated in SQLite during it), recovery. It returns a `Report` with the measurements that the
tests assert and `Report.table()` prints.

The harness keeps its own cost off the measurement: each manager opens its connections before
the measured phase (`RedisCacheManager.warm_up`), the objects alive before it are frozen out of
the garbage collector (a full collection of the test process stalls the loop for tens of ms),
and a probe task measures the event loop's lag throughout, so the report shows how late the
loop itself ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import os
import random
import sqlite3
import time
from array import array
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, TypeVar

from redis.asyncio import Redis

from fact_resilience import (
    CacheCircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
    ResilientCacheWrapper,
)
from fact_resilience.backends import RedisCacheManager

from .conftest import RedisServer

_T = TypeVar("_T")


class Call:
    """Set per cache call by the driver: when it began, and what the traced manager saw."""

    __slots__ = ("leaked", "reached", "started")

    def __init__(self, started: float) -> None:
        self.started = started  # time.monotonic() just before the wrapper asked the breaker
        self.reached = False  # the call got a connection and talked to Redis
        self.leaked = False  # ... although the circuit was OPEN since before the call began


REACHED: contextvars.ContextVar[Call] = contextvars.ContextVar("REACHED")

SOAK = os.environ.get("FACT_SOAK", "") not in ("", "0")


class OpenWatch:
    """When the circuit last opened (set by a state listener, synchronously with the trip)."""

    def __init__(self, breaker: CacheCircuitBreaker) -> None:
        self.breaker = breaker
        self.opened_at = float("inf")


class TracedRedisCacheManager(RedisCacheManager):
    """`RedisCacheManager` that marks, for the current task, that a call reached Redis, and
    whether it did so while the circuit had been OPEN since before the call began: a call the
    breaker should have refused. Exact, because a call asks the breaker in the same loop step
    as `Call.started` is taken, and admitting a call out of OPEN moves the state first."""

    watch: Optional[OpenWatch] = None

    async def _run_on(
        self, operation: str, call: Callable[[Redis], Awaitable[_T]], lane: Redis, timeout: float
    ) -> _T:
        mark = REACHED.get(None)
        if mark is not None:
            mark.reached = True
            w = self.watch
            if (
                w is not None
                and mark.started > w.opened_at
                and w.breaker.get_state() is CircuitState.OPEN
            ):
                mark.leaked = True
        return await super()._run_on(operation, call, lane, timeout)


class Truth:
    """SQLite as the source of truth: `n` facts, each with a version that `update` bumps."""

    def __init__(self, n: int) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE TABLE facts (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        self.db.executemany(
            "INSERT INTO facts VALUES (?, ?)", [(k, self._text(k, 1)) for k in range(n)]
        )
        self.db.commit()
        self.n = n

    @staticmethod
    def _text(k: int, version: int) -> str:
        return f"fact {k} (version {version}): the answer is {k * 7919 % 10007 + version}"

    def read(self, k: int) -> str:
        row = self.db.execute("SELECT v FROM facts WHERE k = ?", (k,)).fetchone()
        return str(row[0])

    def update(self, k: int) -> str:
        version = int(self.read(k).split("version ", 1)[1].split(")", 1)[0]) + 1
        text = self._text(k, version)
        self.db.execute("UPDATE facts SET v = ? WHERE k = ?", (text, k))
        self.db.commit()
        return text


def query_text(k: int) -> str:
    return f"What is fact number {k}?"


class BareCache:
    """Graceful degradation written by hand, without a breaker: every call goes to Redis and
    any failure is answered with the fallback after paying for it."""

    def __init__(self, manager: RedisCacheManager) -> None:
        self.manager = manager

    def generate_hash(self, query: str) -> str:
        return self.manager.generate_hash(query)

    async def get(self, h: str) -> Any:
        try:
            return await self.manager.get(h)
        except Exception:
            return None

    async def store(self, h: str, content: str) -> Any:
        try:
            return await self.manager.store(h, content)
        except Exception:
            return True


STATES = ["-", "closed", "open", "half_open"]


@dataclass
class Sample:
    """One cache call: when it began (s since the run's start), how long it took (s), the
    breaker state when it began, and whether it reached Redis."""

    t: float
    latency: float
    state: str
    reached: bool
    leaked: bool = False


@dataclass
class LoadResult:
    """Counts, and one sample per cache call kept in flat arrays (100k+ objects would make
    the garbage collector pause the loop, and the pauses would show up as latency)."""

    requests: int = 0
    errors: int = 0
    wrong: int = 0
    t: array[float] = field(default_factory=lambda: array("d"))
    latency: array[float] = field(default_factory=lambda: array("d"))
    state: array[int] = field(default_factory=lambda: array("b"))
    reached: array[int] = field(default_factory=lambda: array("b"))
    leaked: array[int] = field(default_factory=lambda: array("b"))
    wrong_examples: list[str] = field(default_factory=list)
    error_examples: list[str] = field(default_factory=list)
    wrong_keys: dict[int, int] = field(default_factory=dict)

    @property
    def samples(self) -> list[Sample]:
        return [
            Sample(t, lat, STATES[st], bool(r), bool(k))
            for t, lat, st, r, k in zip(self.t, self.latency, self.state, self.reached, self.leaked)
        ]


async def run_load(
    cache: Any,
    truth: Truth,
    *,
    workers: int,
    duration: float,
    max_requests: int,
    started: float,
    breaker: Optional[CacheCircuitBreaker] = None,
    think: float = 0.2,
    ramp: float = 0.5,
    seed: int = 1,
) -> LoadResult:
    """Runs `workers` concurrent query loops until `duration` seconds pass or `max_requests`
    requests were made. Each worker waits up to `think` seconds (uniform) between requests,
    like a user, so that a healthy run keeps the event loop (and its timers) responsive on a
    small machine. The workers start over `ramp` seconds (a cold pool cannot open 200
    connections within one 50 ms timeout)."""
    result = LoadResult()
    deadline = time.monotonic() + duration
    rng = random.Random(seed)
    hashes = [cache.generate_hash(query_text(k)) for k in range(truth.n)]
    codes = {s: i for i, s in enumerate(STATES)}

    def state_of() -> int:
        if breaker is None:
            return 0
        state = breaker.get_state()
        if state is CircuitState.OPEN and breaker.next_deadline_in() == 0.0:
            # The open timeout is due: get_state() has not moved yet, but this call will be
            # admitted as a probe, so it did not start while the circuit was refusing.
            return codes["half_open"]
        return codes[state.value]

    async def timed(call: Awaitable[_T]) -> _T:
        mark = Call(time.monotonic())
        token = REACHED.set(mark)
        state = state_of()
        t0 = time.perf_counter()
        try:
            return await call
        finally:
            t1 = time.perf_counter()
            REACHED.reset(token)
            result.t.append(t0 - started_perf)
            result.latency.append(t1 - t0)
            result.state.append(state)
            result.reached.append(mark.reached)
            result.leaked.append(mark.leaked)

    started_perf = time.perf_counter() - (time.monotonic() - started)

    async def worker(i: int) -> None:
        await asyncio.sleep(ramp * i / workers)  # users arrive over `ramp` seconds
        for _ in range(max_requests):  # bounded in count; the deadline bounds it in time
            if time.monotonic() >= deadline or result.requests >= max_requests:
                return
            result.requests += 1
            k = min(int(rng.expovariate(1 / (truth.n / 4))), truth.n - 1)  # some keys are hot
            before = truth.read(k)
            try:
                entry = await timed(cache.get(hashes[k]))
                if entry is not None:
                    answer = str(entry.content)
                else:
                    answer = truth.read(k)
                    await timed(cache.store(hashes[k], answer))
            except Exception as e:  # a user-facing error
                result.errors += 1
                if len(result.error_examples) < 5:
                    result.error_examples.append(f"{type(e).__name__}: {e}")
                continue
            after = truth.read(k)
            if answer not in (before, after):
                result.wrong += 1
                result.wrong_keys[k] = result.wrong_keys.get(k, 0) + 1
                if len(result.wrong_examples) < 5:
                    t = time.monotonic() - started
                    result.wrong_examples.append(f"t={t:.2f}s key {k}: {answer!r} != {after!r}")
            await asyncio.sleep(think * rng.random())

    await asyncio.gather(*(worker(i) for i in range(workers)))
    return result


class LagProbe:
    """Measures the event loop's lag: how late a 5 ms sleep wakes up, all run long."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.lags = array("d")
        self._task: Optional[asyncio.Task[None]] = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(10_000_000):  # bounded; cancelled when the run ends
            t = loop.time()
            await asyncio.sleep(self.interval)
            self.lags.append(loop.time() - t - self.interval)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Moves every object alive now out of the collector's reach for the block: a full
    collection would otherwise walk the whole test process (pytest, redis-py, ...) and stall
    the loop under load."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# ---- the scenario ----------------------------------------------------------------------


@dataclass
class Fault:
    """A fault: `inject` at the start of the fault window, `heal` at its end (both run in a
    thread, since they block on the server), and `during` for faults that change over the
    window (flapping)."""

    name: str
    inject: Callable[[RedisServer, float], None]
    heal: Callable[[RedisServer], None]
    during: Optional[Callable[[RedisServer, float], Awaitable[None]]] = None


@dataclass
class Timing:
    warm: float = 2.0
    fault: float = 3.0
    recover: float = 3.0
    baseline: float = 1.5

    @classmethod
    def default(cls) -> Timing:
        if SOAK:
            return cls(warm=10.0, fault=60.0, recover=30.0, baseline=10.0)
        return cls()


CONFIG = dict(failure_threshold=5, success_threshold=3, timeout_seconds=1.0)


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(q * len(ys)))]


@dataclass
class Report:
    fault: str
    workers: int
    requests: int = 0
    errors: int = 0
    wrong: int = 0
    cache_calls: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    open_calls: int = 0
    open_p50_ms: float = 0.0
    open_p99_ms: float = 0.0
    open_p999_ms: float = 0.0
    probes_while_open: int = 0
    failures_before_fault: int = 0
    shed_manager: int = 0
    shed_guard: Optional[int] = None
    late_replies: int = 0
    connects: int = 0
    loop_lag_p99_ms: float = 0.0
    loop_lag_max_ms: float = 0.0
    baseline_calls: int = 0
    baseline_p50_ms: float = 0.0
    baseline_p99_ms: float = 0.0
    failures_to_open: Optional[int] = None
    opened_before_fault: bool = False
    time_open: float = 0.0
    recovery: Optional[float] = None
    reopened_after_heal: int = 0
    final_state: str = ""
    updated_key_value: str = ""
    updated_key_cached: Optional[str] = None
    stale_answers: int = 0
    pending_after: int = -1
    transitions: list[tuple[float, str, str]] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    wall: float = 0.0

    def table(self) -> str:
        ms = "{:.2f} ms".format
        us = "{:.1f} µs".format
        rows = [
            ("requests (answered by the service)", f"{self.requests}"),
            ("user-facing errors", f"{self.errors}"),
            ("answers != SQLite truth", f"{self.wrong}"),
            ("cache calls: p50 / p99", f"{ms(self.p50_ms)} / {ms(self.p99_ms)}"),
            (
                "  while OPEN (fail-fast): p50 / p99",
                f"{us(self.open_p50_ms * 1000)} / {us(self.open_p99_ms * 1000)}"
                f" over {self.open_calls} calls",
            ),
            (
                "  baseline, no breaker, same fault: p50 / p99",
                f"{ms(self.baseline_p50_ms)} / {ms(self.baseline_p99_ms)}"
                f" over {self.baseline_calls} calls",
            ),
            (
                "  started while OPEN, reached Redis anyway",
                f"{self.probes_while_open}",
            ),
            ("failures charged while healthy (before the fault)", f"{self.failures_before_fault}"),
            (
                "failures before OPEN",
                f"{self.failures_to_open} (threshold {CONFIG['failure_threshold']})",
            ),
            ("time open", f"{self.time_open:.2f} s"),
            (
                "recovery (server back -> CLOSED)",
                "not recovered" if self.recovery is None else f"{self.recovery:.2f} s",
            ),
            ("stale answers after recovery (updated key)", f"{self.stale_answers}"),
            (
                "shed (no free connection): manager / wrapper",
                f"{self.shed_manager} / "
                + ("n/a" if self.shed_guard is None else f"{self.shed_guard}"),
            ),
            (
                "event-loop lag: p99 / max",
                f"{ms(self.loop_lag_p99_ms)} / {ms(self.loop_lag_max_ms)}",
            ),
            ("late timers forgiven / connections opened", f"{self.late_replies} / {self.connects}"),
            ("transitions", " ".join(f"{t:.2f}s:{a}->{b}" for t, a, b in self.transitions)),
            ("wall time", f"{self.wall:.1f} s"),
        ]
        w = max(len(k) for k, _ in rows)
        head = f"### {self.fault} ({self.workers} workers)"
        lines = [head, "", f"| {'metric':<{w}} | value |", f"|{'-' * (w + 2)}|-------|"]
        lines += [f"| {k:<{w}} | {v} |" for k, v in rows]
        return "\n".join(lines)


async def run_scenario(
    server: RedisServer,
    fault: Fault,
    *,
    workers: int = 200,
    keys: int = 400,
    timing: Optional[Timing] = None,
    op_timeout: float = 0.05,
    max_pending_invalidations: Optional[int] = 1024,
) -> Report:
    with frozen_heap():
        return await _run_scenario(
            server,
            fault,
            workers=workers,
            keys=keys,
            timing=timing or Timing.default(),
            op_timeout=op_timeout,
            max_pending_invalidations=max_pending_invalidations,
        )


async def _run_scenario(
    server: RedisServer,
    fault: Fault,
    *,
    workers: int,
    keys: int,
    timing: Timing,
    op_timeout: float,
    max_pending_invalidations: Optional[int],
) -> Report:
    report = Report(fault.name, workers)
    wall0 = time.monotonic()
    truth = Truth(keys)
    max_requests = 50_000_000

    # 1. Baseline: the same fault through a bare manager, no breaker.
    bare_manager = TracedRedisCacheManager.from_url(
        server.url, prefix="baseline", op_timeout=op_timeout
    )
    try:
        await bare_manager.warm_up()
        started = time.monotonic()
        await asyncio.to_thread(fault.inject, server, timing.baseline)
        base = await run_load(
            BareCache(bare_manager),
            truth,
            workers=workers,
            duration=timing.baseline,
            max_requests=max_requests,
            started=started,
        )
        await asyncio.to_thread(fault.heal, server)
    finally:
        await bare_manager.close()
    during = [s.latency for s in base.samples if s.reached]
    report.baseline_calls = len(during)
    report.baseline_p50_ms = pct(during, 0.5) * 1000
    report.baseline_p99_ms = pct(during, 0.99) * 1000

    # 2. The service behind ResilientCacheWrapper.
    manager = TracedRedisCacheManager.from_url(server.url, prefix="fact", op_timeout=op_timeout)
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(**CONFIG))  # type: ignore[arg-type]
    wrapper = ResilientCacheWrapper(
        cache_manager=manager,
        circuit_breaker=breaker,
        max_pending_invalidations=max_pending_invalidations,
    )
    assert isinstance(manager, TracedRedisCacheManager)
    watch = manager.watch = OpenWatch(breaker)
    lag = LagProbe()
    try:
        await manager.warm_up()
    except BaseException:
        await manager.close()  # its connections must not outlive a failed set-up
        raise
    started = time.monotonic()
    marks: dict[str, float] = {}
    opens: list[tuple[float, int]] = []  # (t, failure_count) at each -> OPEN

    def on_change(frm: CircuitState, to: CircuitState, reason: str) -> None:
        t = time.monotonic() - started
        report.transitions.append((t, frm.value, to.value))
        if to is CircuitState.OPEN:
            watch.opened_at = time.monotonic()
            opens.append((t, breaker.get_metrics().failure_count))

    breaker.on_state_change(on_change)
    hot_key = 0  # the hottest key: certainly cached before the fault
    hot_hash = manager.generate_hash(query_text(hot_key))
    failures_at_fault = 0

    async def script() -> None:
        nonlocal failures_at_fault
        await asyncio.sleep(timing.warm)
        failures_at_fault = breaker.get_metrics().failure_count
        marks["fault"] = time.monotonic() - started
        await asyncio.to_thread(fault.inject, server, timing.fault)
        # Update a cached key in the source of truth while the cache is down, and invalidate
        # it the way the write path would; the breaker skips the invalidation. On a busy
        # machine the breaker may not have opened yet at the window's middle: wait for it
        # (bounded), or the invalidation would reach the paused server, which applies it on
        # resume although the client timed it out, and the run would measure that instead.
        await asyncio.sleep(timing.fault / 2)
        until = time.monotonic() + timing.fault
        while breaker.get_state() is not CircuitState.OPEN and time.monotonic() < until:
            await asyncio.sleep(0.01)
        marks["update"] = time.monotonic() - started
        report.updated_key_value = truth.update(hot_key)
        await wrapper.invalidate(hot_hash)
        if fault.during is not None:
            await fault.during(server, timing.fault / 2)
        else:
            await asyncio.sleep(timing.fault / 2)
        await asyncio.to_thread(fault.heal, server)
        marks["heal"] = time.monotonic() - started

    try:
        lag.start()
        script_task = asyncio.ensure_future(script())
        res = await run_load(
            wrapper,
            truth,
            workers=workers,
            duration=timing.warm + timing.fault + timing.recover,
            max_requests=max_requests,
            started=started,
            breaker=breaker,
        )
        await script_task
        await lag.stop()
        # After the run: what the cache now holds for the updated key.
        entry = await manager.get(hot_hash)
        report.updated_key_cached = None if entry is None else entry.content
    finally:
        await manager.close()
    end = time.monotonic() - started

    report.requests, report.errors, report.wrong = res.requests, res.errors, res.wrong
    report.examples = res.wrong_examples + res.error_examples
    wall_started = time.time() - (time.monotonic() - started)
    report.examples += [
        f"failure at {f.timestamp - wall_started:.3f}s: {f.operation}: {f.error_message}"
        for f in breaker.get_metrics().recent_failures[:8]
    ]
    report.cache_calls = len(res.samples)
    lat = [s.latency for s in res.samples]
    report.p50_ms, report.p99_ms = pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000
    open_calls = [s for s in res.samples if s.state == "open"]
    fast = [s.latency for s in open_calls if not s.reached]
    report.probes_while_open = sum(1 for s in res.samples if s.leaked)
    report.failures_before_fault = failures_at_fault
    m = manager.get_metrics()
    report.shed_manager, report.late_replies, report.connects = (
        m["shed"],
        m["late_replies"],
        m["connects"],
    )
    report.shed_guard = int(wrapper.get_metrics()["guard"]["shed"])
    lags = list(lag.lags)
    report.loop_lag_p99_ms = pct(lags, 0.99) * 1000
    report.loop_lag_max_ms = max(lags, default=0.0) * 1000
    report.open_calls = len(fast)
    report.open_p50_ms = pct(fast, 0.5) * 1000
    report.open_p99_ms = pct(fast, 0.99) * 1000
    report.open_p999_ms = pct(fast, 0.999) * 1000

    fault_t, heal_t = marks["fault"], marks["heal"]
    report.opened_before_fault = any(t < fault_t for t, _ in opens)
    after = [(t, n) for t, n in opens if t >= fault_t]
    if after:
        report.failures_to_open = after[0][1] - failures_at_fault
    # time open: sum of OPEN intervals
    open_since: Optional[float] = None
    for t, _, to in report.transitions:
        if to == "open" and open_since is None:
            open_since = t
        elif to != "open" and open_since is not None:
            report.time_open += t - open_since
            open_since = None
    if open_since is not None:
        report.time_open += end - open_since
    report.final_state = breaker.get_state().value
    closes = [t for t, _, to in report.transitions if to == "closed" and t >= heal_t]
    if report.final_state == "closed":
        report.recovery = (closes[-1] - heal_t) if closes else 0.0
    report.reopened_after_heal = sum(
        1 for t, a, b in report.transitions if t > heal_t and a == "half_open" and b == "open"
    )
    # Answers for the updated key that differ from SQLite: the old value served stale.
    report.stale_answers = res.wrong_keys.get(hot_key, 0)
    report.pending_after = wrapper.pending_invalidations + int(wrapper.pending_overflowed)
    report.wall = time.monotonic() - wall0
    return report


# ---- the faults and the checks --------------------------------------------------------------


def _kill(server: RedisServer, _window: float) -> None:
    server.kill()


def _start(server: RedisServer) -> None:
    if server.proc is None:
        server.start()


def _hang(server: RedisServer, _window: float) -> None:
    server.hang()


def _slow(server: RedisServer, window: float) -> None:
    server.slow(window)


async def _flap(server: RedisServer, seconds: float) -> None:
    """Up 0.3 s, down 0.3 s, ... for `seconds` (the server is down when this starts)."""
    deadline = time.monotonic() + seconds
    for _ in range(1000):
        if time.monotonic() + 0.6 > deadline:
            break
        await asyncio.to_thread(server.start)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.kill)
        await asyncio.sleep(0.3)
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


KILL = Fault("kill (SIGKILL, restart after the window)", _kill, _start)
HANG = Fault("hang (SIGSTOP, SIGCONT after the window)", _hang, RedisServer.resume)
# CLIENT PAUSE cannot be lifted early (CLIENT UNPAUSE waits too): it ends with the window.
SLOW = Fault("slow (CLIENT PAUSE for the window)", _slow, RedisServer.wait_ready)
FLAPPING = Fault("flapping restart (kill, then up/down every 0.3 s)", _kill, _start, _flap)


def check(report: Report, *, open_p99_ms: float = 1.0) -> None:
    """The issue's acceptance criteria for one fault."""
    why = "\n" + report.table() + "\n" + "\n".join(report.examples)
    assert report.errors == 0, "user-facing errors" + why
    assert report.wrong == 0, "answers differ from SQLite" + why
    assert report.stale_answers == 0, why
    assert not report.opened_before_fault, "the breaker opened before the fault" + why
    # A healthy server under this load is never charged: neither the client's own queue
    # (shed) nor connection set-up nor a late event loop counts as a cache failure.
    assert report.failures_before_fault == 0, "a failure was charged while healthy" + why
    assert report.probes_while_open == 0, "calls that began while OPEN reached Redis" + why
    # Every call the client shed reached the wrapper as shed: answered, never charged.
    assert report.shed_guard == report.shed_manager, "a shed call was charged" + why
    assert report.failures_to_open is not None, "the breaker never opened" + why
    assert report.failures_to_open <= CONFIG["failure_threshold"], why
    assert report.open_calls > 0, why
    assert report.open_p99_ms <= open_p99_ms, "calls while OPEN must fail fast" + why
    assert report.baseline_calls > 0, why
    assert report.final_state == "closed" and report.recovery is not None, (
        "the breaker must close once the server is back" + why
    )
    # At most one open timeout, then success_threshold probes (plus scheduling slack).
    assert report.recovery <= float(CONFIG["timeout_seconds"]) + 1.0, why
    assert report.reopened_after_heal == 0, "a probe failed after the server was back" + why
    assert report.updated_key_cached in (None, report.updated_key_value), (
        "the cache kept the value from before the update" + why
    )
    assert report.pending_after == 0, why
