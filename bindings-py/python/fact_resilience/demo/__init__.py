"""`fact-resilience demo`: a FACT-style query service rides out a cache outage.

Cache-first, as FACT answers queries: look the query up in the cache; on a miss ask the source
of truth (a real SQLite database of quarterly figures, made on the fly) and store the answer.
The cache sits behind `ResilientCacheWrapper` + `CacheCircuitBreaker`, with one breaker per
shard of keys below the whole cache's, and a fault schedule breaks it in turn: one shard down
(only that shard's breaker opens), errors, a full outage and slowness, before letting it
recover. Misses go to the origin through `get_or_load` with single-flight: concurrent misses of
one key wait for one model + database call instead of each making their own. Halfway
through the outage some figures change in SQLite and their cache entries are invalidated the way
a write path would, which the open circuit skips: the wrapper remembers those keys and
invalidates them before the cache is used again. Every answer is checked against SQLite as it
is when the query is asked; the run succeeds only if every query was answered correctly, no
stale figure was served after the change, and no user saw an error.
"""

from __future__ import annotations

from .cli import main
from .run import run_demo
from .summary import Summary, format_summary

__all__ = ["Summary", "format_summary", "main", "run_demo"]
