"""History stores beyond the in-memory default.

``RedisHistoryStore`` keeps each episode's history in Redis so that several replicas of an agent share one
conversation's statistics. It needs the ``redis`` extra (``pip install 'guardrail-core[redis]'``); the import
of redis-py happens when a store is built, so importing this package never needs it.
"""

from __future__ import annotations

from guardrail.stores.redis import HistoryStoreWarning, OnError, RedisHistoryStore

__all__ = ["HistoryStoreWarning", "OnError", "RedisHistoryStore"]
