"""RedisHistoryStore: per-episode history in Redis, shared by every replica of an agent.

Layout, for an episode ``E`` and the prefix ``P`` (default ``"guardrail:history:"``)::

    P{E}            hash   k, t, tried, run_length, rewarded_steps, total_reward, interventions,
                           extra_agent_calls, last_exploration_step, c:<a>, rc:<a>, rs:<a> per action a
    P{E}:recent     list   the last ``window`` executed actions (RPUSH + LTRIM)
    P{E}:pending    list   "<step>:<action>" for each step still waiting for its reward, oldest first

The braces are a Redis Cluster hash tag, so an episode's three keys live on one shard. Every update is one
Lua script (atomic on the server, one round trip), O(1) in the episode's length and O(k) at most in the
number of actions; a reward for an explicit ``step`` scans only the pending list. Reward sums are added in
IEEE doubles and stored with 17 significant digits, so means are bit-for-bit those of
:class:`~guardrail.history.InMemoryHistoryStore`. Each write refreshes a TTL on the episode's keys, so idle
episodes expire.

Failure handling (``on_error``):

- ``"raise"``: a Redis failure is a :class:`~guardrail.exceptions.HistoryStoreError` naming the operation and
  the episode; nothing is written locally.
- ``"local"``: the episode moves to an in-process history in this process, seeded from the last state this
  store read from Redis for it, with a :class:`HistoryStoreWarning`; ``fallbacks`` counts such moves. The
  episode stays local (so its steps and rewards stay consistent) until :meth:`RedisHistoryStore.reset`
  or :meth:`RedisHistoryStore.rejoin`; what Redis already holds is left untouched.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from guardrail.exceptions import (
    ConfigurationError,
    HistoryStoreError,
    InvalidInputError,
    MissingDependencyError,
)
from guardrail.history import EpisodeHistory, HistoryView, StepRecord

__all__ = ["HistoryStoreWarning", "OnError", "RedisHistoryStore"]

OnError = Literal["raise", "local"]
"""What a Redis failure does: ``"raise"`` HistoryStoreError, or ``"local"`` continue in process memory."""

_SNAPSHOT_PENDING = 64
"""How many of the oldest pending steps a snapshot carries (to seed a local fallback)."""

# Shared Lua helpers: check the episode's action count, refresh the TTL, and return the state.
_PRELUDE = """
local h, recent, pending = KEYS[1], KEYS[2], KEYS[3]
local k = ARGV[1]
local ttl = tonumber(ARGV[2])
local snap = ARGV[3]
local stored = redis.call('HGET', h, 'k')
if stored and stored ~= k then return {-1, tonumber(stored)} end
local function touch()
  if ttl > 0 then
    redis.call('PEXPIRE', h, ttl)
    redis.call('PEXPIRE', recent, ttl)
    redis.call('PEXPIRE', pending, ttl)
  end
end
local function reply(index)
  if snap == '1' then
    return {0, index, redis.call('HGETALL', h), redis.call('LRANGE', recent, 0, -1),
            redis.call('LRANGE', pending, 0, PENDING_LAST)}
  end
  return {0, index}
end
""".replace("PENDING_LAST", str(_SNAPSHOT_PENDING - 1))

# ARGV: k, ttl_ms, snap, action, window, interventions, extra_agent_calls, explored
_RECORD_STEP = (
    _PRELUDE
    + """
if not stored then redis.call('HSET', h, 'k', k) end
local action = ARGV[4]
local t = redis.call('HINCRBY', h, 't', 1) - 1
if redis.call('HINCRBY', h, 'c:' .. action, 1) == 1 then redis.call('HINCRBY', h, 'tried', 1) end
if redis.call('LINDEX', recent, -1) == action then
  redis.call('HINCRBY', h, 'run_length', 1)
else
  redis.call('HSET', h, 'run_length', 1)
end
redis.call('RPUSH', recent, action)
redis.call('LTRIM', recent, -tonumber(ARGV[5]), -1)
redis.call('RPUSH', pending, string.format('%d:%s', t, action))
if ARGV[6] ~= '0' then redis.call('HINCRBY', h, 'interventions', ARGV[6]) end
if ARGV[7] ~= '0' then redis.call('HINCRBY', h, 'extra_agent_calls', ARGV[7]) end
if ARGV[8] == '1' then redis.call('HSET', h, 'last_exploration_step', t) end
touch()
return reply(t)
"""
)

# ARGV: k, ttl_ms, snap, reward (repr of a float), step ('' for the oldest pending)
_RECORD_REWARD = (
    _PRELUDE
    + """
local entry
if ARGV[5] == '' then
  entry = redis.call('LPOP', pending)
  if not entry then return {-2, 0} end
else
  local prefix = ARGV[5] .. ':'
  for _, item in ipairs(redis.call('LRANGE', pending, 0, -1)) do
    if string.sub(item, 1, #prefix) == prefix then entry = item; break end
  end
  if not entry then return {-3, 0} end
  redis.call('LREM', pending, 1, entry)
end
local sep = string.find(entry, ':', 1, true)
local index = tonumber(string.sub(entry, 1, sep - 1))
local action = string.sub(entry, sep + 1)
local reward = tonumber(ARGV[4])
redis.call('HINCRBY', h, 'rc:' .. action, 1)
local sum = tonumber(redis.call('HGET', h, 'rs:' .. action) or '0') + reward
redis.call('HSET', h, 'rs:' .. action, string.format('%.17g', sum))
redis.call('HINCRBY', h, 'rewarded_steps', 1)
local total = tonumber(redis.call('HGET', h, 'total_reward') or '0') + reward
redis.call('HSET', h, 'total_reward', string.format('%.17g', total))
touch()
return reply(index)
"""
)

# ARGV: k, ttl_ms (unused), snap (always '1')
_VIEW = _PRELUDE + "\nreturn reply(0)\n"


class HistoryStoreWarning(RuntimeWarning):
    """The history backend failed and the store went on with in-process history."""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    view: HistoryView
    pending: tuple[tuple[int, int], ...]


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse_snapshot(k: int, reply: Sequence[Any]) -> _Snapshot:
    flat = [_text(x) for x in reply[2]]
    fields: dict[str, str] = dict(zip(flat[0::2], flat[1::2], strict=True))
    recent = tuple(int(_text(x)) for x in reply[3])
    pending: list[tuple[int, int]] = []
    for item in reply[4]:
        index, _, action = _text(item).partition(":")
        pending.append((int(index), int(action)))
    last_exploration = fields.get("last_exploration_step")
    view = HistoryView(
        k=k,
        t=int(fields.get("t", 0)),
        counts=tuple(int(fields.get(f"c:{a}", 0)) for a in range(k)),
        reward_counts=tuple(int(fields.get(f"rc:{a}", 0)) for a in range(k)),
        reward_sums=tuple(float(fields.get(f"rs:{a}", 0.0)) for a in range(k)),
        recent=recent,
        run_length=int(fields.get("run_length", 0)),
        tried=int(fields.get("tried", 0)),
        rewarded_steps=int(fields.get("rewarded_steps", 0)),
        total_reward=float(fields.get("total_reward", 0.0)),
        interventions=int(fields.get("interventions", 0)),
        extra_agent_calls=int(fields.get("extra_agent_calls", 0)),
        last_exploration_step=None if last_exploration is None else int(last_exploration),
        last_action=recent[-1] if recent else None,
    )
    return _Snapshot(view, tuple(pending))


def _seed(snapshot: _Snapshot | None, k: int, window: int) -> EpisodeHistory:
    """An in-process episode continuing from ``snapshot`` (empty when there is none)."""
    history = EpisodeHistory(k, window=window)
    if snapshot is None:
        return history
    view = snapshot.view
    actions = dict(snapshot.pending)
    # Only pending steps need their action (a later reward attaches to it); the others are placeholders.
    history.steps = [StepRecord(i, actions.get(i, -1)) for i in range(view.t)]
    history.counts = list(view.counts)
    history.reward_counts = list(view.reward_counts)
    history.reward_sums = list(view.reward_sums)
    history.recent = deque(view.recent, maxlen=window)
    history.run_length = view.run_length
    history.tried = view.tried
    history.rewarded_steps = view.rewarded_steps
    history.total_reward = view.total_reward
    history.interventions = view.interventions
    history.extra_agent_calls = view.extra_agent_calls
    history.last_exploration_step = view.last_exploration_step
    history.pending_reward = deque(i for i, _ in snapshot.pending)
    return history


class RedisHistoryStore:
    """Episode histories in Redis, so agent replicas share them; implements ``HistoryStore``.

    >>> store = RedisHistoryStore("redis://127.0.0.1:6379/0", ttl=3600)  # doctest: +SKIP
    >>> guard = Guard(actions=["red", "blue"], history=store)  # doctest: +SKIP

    Args:
        url: a Redis URL (``redis://host:port/db``); or pass ``client``.
        client: a ready ``redis.Redis`` client (then ``url`` and the timeouts are not used).
        prefix: put before every key, e.g. to separate applications sharing one Redis.
        ttl: seconds an idle episode is kept; every write refreshes it. None keeps episodes forever.
        window: how many recent actions the view carries (as ``InMemoryHistoryStore(window=...)``).
        on_error: ``"raise"`` a HistoryStoreError on a Redis failure, or ``"local"``: warn and continue the
            episode in this process (see the module docstring).
        socket_timeout: seconds a Redis command may take before it counts as a failure.
        cache_size: how many episodes' last-read states are kept to seed a local fallback (``"local"`` only).

    Raises:
        MissingDependencyError: redis-py is not installed (``pip install 'guardrail-core[redis]'``).
        ConfigurationError: an argument is invalid.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        prefix: str = "guardrail:history:",
        ttl: float | None = 7 * 24 * 3600.0,
        window: int = 20,
        on_error: OnError = "raise",
        socket_timeout: float = 1.0,
        cache_size: int = 10_000,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("RedisHistoryStore needs exactly one of url= or client=")
        if on_error not in ("raise", "local"):
            raise ConfigurationError(f"on_error must be 'raise' or 'local', got {on_error!r}")
        if ttl is not None and not ttl > 0:
            raise ConfigurationError(f"ttl must be > 0 seconds or None, got {ttl!r}")
        if window < 1:
            raise ConfigurationError(f"window must be >= 1, got {window}")
        if not socket_timeout > 0:
            raise ConfigurationError(f"socket_timeout must be > 0, got {socket_timeout!r}")
        if cache_size < 0:
            raise ConfigurationError(f"cache_size must be >= 0, got {cache_size}")
        try:
            import redis
        except ImportError as error:
            raise MissingDependencyError(package="redis", extra="redis", feature="RedisHistoryStore") from error
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        self._owns_client = client is None
        if client is None:
            assert url is not None
            client = redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout)
        self.client: Any = client
        self.prefix = prefix
        self.ttl = ttl
        self.window = window
        self.on_error: OnError = on_error
        self.cache_size = cache_size
        self._ttl_ms = "0" if ttl is None else str(max(1, round(ttl * 1000)))
        self._snap = "1" if on_error == "local" else "0"
        self._record_step = self.client.register_script(_RECORD_STEP)
        self._record_reward = self.client.register_script(_RECORD_REWARD)
        self._view = self.client.register_script(_VIEW)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, _Snapshot] = OrderedDict()
        self._local: dict[str, tuple[EpisodeHistory, threading.Lock]] = {}
        self.fallbacks = 0
        """How many times an episode moved to in-process history after a Redis failure."""

    # -- keys and plumbing -----------------------------------------------------------------------------------
    def keys(self, episode: str) -> list[str]:
        """The Redis keys of an episode: its hash, its recent-actions list, its pending-rewards list."""
        base = f"{self.prefix}{{{episode}}}"
        return [base, f"{base}:recent", f"{base}:pending"]

    @property
    def local_episodes(self) -> frozenset[str]:
        """Episodes this process serves from local memory after a Redis failure."""
        with self._lock:
            return frozenset(self._local)

    def _remember(self, episode: str, k: int, reply: Sequence[Any]) -> _Snapshot | None:
        if len(reply) < 5:
            return None
        snapshot = _parse_snapshot(k, reply)
        if self.on_error == "local" and self.cache_size:
            with self._lock:
                self._cache[episode] = snapshot
                self._cache.move_to_end(episode)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return snapshot

    def _local_episode(self, episode: str, k: int) -> tuple[EpisodeHistory, threading.Lock] | None:
        with self._lock:
            entry = self._local.get(episode)
        if entry is not None and entry[0].k != k:
            raise InvalidInputError(f"episode {episode!r} has {entry[0].k} actions; this guard has {k}")
        return entry

    def _fail(
        self, operation: str, episode: str, k: int, error: BaseException
    ) -> tuple[EpisodeHistory, threading.Lock]:
        """Raise HistoryStoreError, or move the episode to local memory (on_error="local")."""
        message = f"RedisHistoryStore.{operation} failed for episode {episode!r}: {type(error).__name__}: {error}"
        if self.on_error == "raise":
            raise HistoryStoreError(message) from error
        with self._lock:
            entry = self._local.get(episode)
            if entry is None:
                entry = (_seed(self._cache.pop(episode, None), k, self.window), threading.Lock())
                self._local[episode] = entry
                self.fallbacks += 1
                moved = True
            else:
                moved = False
        if moved:
            warnings.warn(
                f"{message}; continuing this episode with in-process history", HistoryStoreWarning, stacklevel=3
            )
        return entry

    def _call(self, script: Any, episode: str, args: Sequence[str]) -> Any:
        return script(keys=self.keys(episode), args=list(args))

    @staticmethod
    def _check(episode: str, k: int, reply: Sequence[Any]) -> None:
        status = int(reply[0])
        if status == -1:
            raise InvalidInputError(f"episode {episode!r} has {int(reply[1])} actions; this guard has {k}")
        if status == -2:
            raise InvalidInputError("no step of this episode is waiting for a reward")

    # -- HistoryStore ----------------------------------------------------------------------------------------
    def view(self, episode: str, k: int) -> HistoryView:
        """The episode's statistics now (one round trip)."""
        local = self._local_episode(episode, k)
        if local is None:
            try:
                reply = self._call(self._view, episode, (str(k), self._ttl_ms, "1"))
            except self._errors as error:
                local = self._fail("view", episode, k, error)
            else:
                self._check(episode, k, reply)
                snapshot = self._remember(episode, k, reply)
                assert snapshot is not None
                return snapshot.view
        history, lock = local
        with lock:
            return history.view()

    def record_step(
        self,
        episode: str,
        k: int,
        action: int,
        *,
        interventions: int = 0,
        extra_agent_calls: int = 0,
        explored: bool = False,
    ) -> int:
        """Append an executed action with what guarding it cost; returns its step index (atomic)."""
        if not 0 <= action < k:
            raise InvalidInputError(f"action index {action} is outside 0..{k - 1}")
        local = self._local_episode(episode, k)
        if local is None:
            args = (
                str(k),
                self._ttl_ms,
                self._snap,
                str(action),
                str(self.window),
                str(int(interventions)),
                str(int(extra_agent_calls)),
                "1" if explored else "0",
            )
            try:
                reply = self._call(self._record_step, episode, args)
            except self._errors as error:
                local = self._fail("record_step", episode, k, error)
            else:
                self._check(episode, k, reply)
                self._remember(episode, k, reply)
                return int(reply[1])
        history, lock = local
        with lock:
            index = history.add_step(action)
            history.interventions += interventions
            history.extra_agent_calls += extra_agent_calls
            if explored:
                history.last_exploration_step = index
            return index

    def record_reward(self, episode: str, k: int, reward: float, *, step: int | None = None) -> int:
        """Attach a reward to the episode's oldest unrewarded step (or ``step``); returns its index (atomic)."""
        local = self._local_episode(episode, k)
        if local is None:
            args = (str(k), self._ttl_ms, self._snap, repr(float(reward)), "" if step is None else str(int(step)))
            try:
                reply = self._call(self._record_reward, episode, args)
            except self._errors as error:
                local = self._fail("record_reward", episode, k, error)
            else:
                if int(reply[0]) == -3:
                    raise InvalidInputError(f"step {step} is not waiting for a reward")
                self._check(episode, k, reply)
                self._remember(episode, k, reply)
                return int(reply[1])
        history, lock = local
        with lock:
            return history.add_reward(float(reward), step)

    def reset(self, episode: str) -> None:
        """Forget an episode, in Redis and in this process."""
        with self._lock:
            self._local.pop(episode, None)
            self._cache.pop(episode, None)
        try:
            self.client.delete(*self.keys(episode))
        except self._errors as error:
            message = f"RedisHistoryStore.reset failed for episode {episode!r}: {type(error).__name__}: {error}"
            if self.on_error == "raise":
                raise HistoryStoreError(message) from error
            warnings.warn(f"{message}; the Redis keys expire with their TTL", HistoryStoreWarning, stacklevel=2)

    # -- beyond the protocol ---------------------------------------------------------------------------------
    def rejoin(self, episode: str) -> None:
        """Serve a locally held episode from Redis again (its local steps are discarded, Redis is kept)."""
        with self._lock:
            self._local.pop(episode, None)

    def ping(self) -> bool:
        """Whether Redis answers now."""
        try:
            return bool(self.client.ping())
        except self._errors:
            return False

    def close(self) -> None:
        """Release the connection pool (only when this store created the client)."""
        if self._owns_client:
            self.client.close()

    def __repr__(self) -> str:
        return f"RedisHistoryStore(prefix={self.prefix!r}, ttl={self.ttl!r}, on_error={self.on_error!r})"
