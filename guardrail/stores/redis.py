"""RedisHistoryStore: per-episode history in Redis, shared by every replica of an agent.

Layout, for an episode ``E`` and the prefix ``P`` (default ``"guardrail:history:"``)::

    P{E}            hash   k, t, tried, run_length, rewarded_steps, total_reward, interventions,
                           extra_agent_calls, last_exploration_step, c:<a>, rc:<a>, rs:<a> per action a
    P{E}:recent     list   the last ``window`` executed actions (RPUSH + LTRIM)
    P{E}:pending    list   "<step>:<action>" for each step still waiting for its reward, oldest first
    P{E}:calls      list   the episode's calls since its last user message, at most 64, oldest first; each a JSON
                           array [step, tool, canonical arguments, outcome digest, failed, error, argument texts]

The braces are a Redis Cluster hash tag, so an episode's keys live on one shard. Every update is one
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

Calls (what :class:`~guardrail.detectors.Loops` reads) follow the same rules: a step and its call are one script
(``record_step_call``), an outcome is attached by compare-and-set on the call's record (computed here, so the
digest is the in-memory store's), a user message empties the list; all carry write ids, a re-seed and a local
fallback carry the calls, and ``view().calls`` is what :class:`~guardrail.history.InMemoryHistoryStore` shows.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import warnings
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from guardrail.exceptions import (
    ConfigurationError,
    HistoryStoreError,
    InvalidInputError,
    MissingDependencyError,
)
from guardrail.history import (
    MAX_CALL_WINDOW,
    CallRecord,
    EpisodeHistory,
    HistoryView,
    StepRecord,
    argument_texts,
    canonical_arguments,
    waiting_call,
    with_outcome,
)

__all__ = ["HistoryStoreWarning", "OnError", "RedisHistoryStore"]

OnError = Literal["raise", "local"]
"""What a Redis failure does: ``"raise"`` HistoryStoreError, or ``"local"`` continue in process memory."""

_SNAPSHOT_PENDING = 64
"""How many of the oldest pending steps a snapshot carries (to seed a local fallback)."""

_MAX_VOIDS = 16
"""How many lost writes of one episode a replica tracks until the next operation settles them."""

_IDS_KEPT = 64
"""How many recent step ids an episode keeps in Redis (for idempotent retries and voiding a lost write)."""

_OUTCOME_TRIES = 16
"""How often record_outcome reads the call again when other replicas keep changing it under it."""

# Shared Lua helpers. KEYS: the hash, recent list, pending list, reset tombstone, step-id hash, step-id order list,
# calls list.
# ARGV[1..5]: k, ttl_ms, snap ('1': reply with the state), known_t (the t this replica last saw; 0: unknown),
# voids (comma-separated ids of earlier writes whose outcome this replica never learned; '' for none).
_PRELUDE = """
local h, recent, pending, tomb, ids, order, calls = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local k = ARGV[1]
local ttl = tonumber(ARGV[2])
local snap = ARGV[3]
local known = tonumber(ARGV[4])
local void = ARGV[5]
local stored = redis.call('HGET', h, 'k')
if stored and stored ~= k then return {-1, tonumber(stored)} end
if not stored and known > 0 and redis.call('EXISTS', tomb) == 0 then return {-4, 0} end
local function touch()
  if ttl > 0 then
    for _, key in ipairs({h, recent, pending, ids, order, calls}) do redis.call('PEXPIRE', key, ttl) end
  end
end
local function remember(id, value)
  redis.call('HSET', ids, id, value)
  redis.call('RPUSH', order, id)
  while redis.call('LLEN', order) > IDS_KEPT do redis.call('HDEL', ids, redis.call('LPOP', order)) end
end
local function reply(index, extra)
  if snap == '1' then
    return {0, index, redis.call('HGETALL', h), redis.call('LRANGE', recent, 0, -1),
            redis.call('LRANGE', pending, 0, PENDING_LAST), extra or '', redis.call('LRANGE', calls, 0, -1)}
  end
  return {0, index, {}, {}, {}, extra or '', {}}
end
local function call_step(entry) return tonumber(string.match(entry, '^%[(%d+),')) end
-- Writes this replica lost track of (they timed out), by id: one that never arrived is marked void so a late
-- arrival does nothing; one that was applied is undone if nothing came after it; else it is kept (and said so).
-- Call outcomes are undone first, then rewards (newest first), then steps from the highest index down, so several
-- lost writes undo in the reverse of the order they were applied, whatever order this replica lost them in. A lost
-- user message that was applied is kept: emptying the calls again is what a retry does anyway.
local outcomes = {}
local lost_rewards, lost_steps, lost_outcomes = {}, {}, {}
for void in string.gmatch(ARGV[5], '[^,]+') do
  local entry = redis.call('HGET', ids, void)
  if not entry then
    remember(void, 'void')
    outcomes[void] = 1
  elseif entry == 'void' then
    outcomes[void] = 1
  elseif entry == 'u' then
    outcomes[void] = 0
  elseif string.sub(entry, 1, 2) == 'o:' then
    table.insert(lost_outcomes, {void, entry})
  elseif string.sub(entry, 1, 2) == 'r:' then
    table.insert(lost_rewards, {void, entry})
  else
    table.insert(lost_steps, {void, entry, tonumber(string.match(entry, '^(%d+)'))})
  end
end
table.sort(lost_steps, function(a, b) return a[3] > b[3] end)
-- An outcome is undone by putting the call's record back as it was; a call no longer listed (a user message, the
-- window) carries no outcome any more, so there is nothing left to undo.
for i = #lost_outcomes, 1, -1 do
  local void, entry = lost_outcomes[i][1], lost_outcomes[i][2]
  local n, rest = string.match(entry, '^o:%d+:(%d+):(.*)$')
  n = tonumber(n)
  local old, new = string.sub(rest, 1, n), string.sub(rest, n + 1)
  local list = redis.call('LRANGE', calls, 0, -1)
  for j = #list, 1, -1 do
    if list[j] == new then redis.call('LSET', calls, j - 1, old); break end
  end
  redis.call('HSET', ids, void, 'void')
  outcomes[void] = 2
end
for i = #lost_rewards, 1, -1 do
  local void, entry = lost_rewards[i][1], lost_rewards[i][2]
  local index, action, prs, ptotal, nrs, ntotal =
    string.match(entry, '^r:(%d+):(%d+):([^:]*):([^:]*):([^:]*):([^:]*)$')
  outcomes[void] = 3
  if redis.call('HGET', h, 'rs:' .. action) == nrs and redis.call('HGET', h, 'total_reward') == ntotal then
    redis.call('HINCRBY', h, 'rc:' .. action, -1)
    redis.call('HSET', h, 'rs:' .. action, prs)
    redis.call('HSET', h, 'total_reward', ptotal)
    redis.call('HINCRBY', h, 'rewarded_steps', -1)
    local item = string.format('%s:%s', index, action)
    local placed = false
    for _, other in ipairs(redis.call('LRANGE', pending, 0, -1)) do
      if tonumber(string.match(other, '^(%d+)')) > tonumber(index) then
        redis.call('LINSERT', pending, 'BEFORE', other, item)
        placed = true
        break
      end
    end
    if not placed then redis.call('RPUSH', pending, item) end
    redis.call('HSET', ids, void, 'void')
    outcomes[void] = 2
  end
end
for _, lost in ipairs(lost_steps) do
  local void, entry = lost[1], lost[2]
  local index, action, inter, extra, prevexpl, prevrun =
    string.match(entry, '^(%d+):(%d+):(%d+):(%d+):(-?%d*):(%d+)$')
  index = tonumber(index)
  outcomes[void] = 3
  local t = tonumber(redis.call('HGET', h, 't') or '0')
  if t == index + 1 and redis.call('LREM', pending, -1, string.format('%d:%s', index, action)) == 1 then
    redis.call('HSET', h, 't', index)
    if redis.call('HINCRBY', h, 'c:' .. action, -1) == 0 then redis.call('HINCRBY', h, 'tried', -1) end
    redis.call('RPOP', recent)
    redis.call('HSET', h, 'run_length', prevrun)
    if inter ~= '0' then redis.call('HINCRBY', h, 'interventions', -tonumber(inter)) end
    if extra ~= '0' then redis.call('HINCRBY', h, 'extra_agent_calls', -tonumber(extra)) end
    if prevexpl == '' then redis.call('HDEL', h, 'last_exploration_step')
    else redis.call('HSET', h, 'last_exploration_step', prevexpl) end
    local last = redis.call('LINDEX', calls, -1)
    if last and call_step(last) == index then redis.call('RPOP', calls) end
    redis.call('HSET', ids, void, 'void')
    outcomes[void] = 2
  end
end
local codes = {}
for void in string.gmatch(ARGV[5], '[^,]+') do table.insert(codes, outcomes[void] or 3) end
local voided = table.concat(codes, ',')
-- A write seen before, by its id: {-7, 0} if it was voided, else its reply again, its index read from what was
-- remembered by ``pattern`` (0 without one); nil for a write not seen yet. Retries record nothing twice.
local function replayed(id, pattern)
  local seen = redis.call('HGET', ids, id)
  if seen == 'void' then return {-7, 0} end
  if seen then return reply(pattern and tonumber(string.match(seen, pattern)) or 0, voided) end
  return nil
end
""".replace("PENDING_LAST", str(_SNAPSHOT_PENDING - 1)).replace("IDS_KEPT", str(_IDS_KEPT))

# Append a call record (ARGV: its JSON) and keep the latest CALLS_KEPT.
_PUSH_CALL = """
local function push_call(entry)
  redis.call('RPUSH', calls, entry)
  redis.call('LTRIM', calls, -CALLS_KEPT, -1)
end
""".replace("CALLS_KEPT", str(MAX_CALL_WINDOW))

# ARGV[6..]: action, window, interventions, extra_agent_calls, explored, step id, and the step's call ('' or
# absent: none) as its JSON record without the leading '[step,' (the step index is known only here).
_RECORD_STEP = (
    _PRELUDE
    + _PUSH_CALL
    + """
local sid = ARGV[11]
local again = replayed(sid, '^(%d+)')
if again then return again end
if not stored then redis.call('HSET', h, 'k', k); redis.call('DEL', tomb) end
local action = ARGV[6]
local prevrun = redis.call('HGET', h, 'run_length') or '0'
local prevexpl = redis.call('HGET', h, 'last_exploration_step') or ''
local t = redis.call('HINCRBY', h, 't', 1) - 1
if redis.call('HINCRBY', h, 'c:' .. action, 1) == 1 then redis.call('HINCRBY', h, 'tried', 1) end
if redis.call('LINDEX', recent, -1) == action then
  redis.call('HINCRBY', h, 'run_length', 1)
else
  redis.call('HSET', h, 'run_length', 1)
end
redis.call('RPUSH', recent, action)
redis.call('LTRIM', recent, -tonumber(ARGV[7]), -1)
redis.call('RPUSH', pending, string.format('%d:%s', t, action))
if ARGV[8] ~= '0' then redis.call('HINCRBY', h, 'interventions', ARGV[8]) end
if ARGV[9] ~= '0' then redis.call('HINCRBY', h, 'extra_agent_calls', ARGV[9]) end
if ARGV[10] == '1' then redis.call('HSET', h, 'last_exploration_step', t) end
if ARGV[12] and ARGV[12] ~= '' then push_call('[' .. t .. ',' .. ARGV[12]) end
remember(sid, string.format('%d:%s:%s:%s:%s:%s', t, action, ARGV[8], ARGV[9], prevexpl, prevrun))
touch()
return reply(t, voided)
"""
)

# ARGV[6..]: reward (repr of a float), step ('' for the oldest pending), reward id
_RECORD_REWARD = (
    _PRELUDE
    + """
local rid = ARGV[8]
local again = replayed(rid, '^r:(%d+)')
if again then return again end
local entry
if ARGV[7] == '' then
  entry = redis.call('LPOP', pending)
  if not entry then return {-2, 0} end
else
  local prefix = ARGV[7] .. ':'
  for _, item in ipairs(redis.call('LRANGE', pending, 0, -1)) do
    if string.sub(item, 1, #prefix) == prefix then entry = item; break end
  end
  if not entry then return {-3, 0} end
  redis.call('LREM', pending, 1, entry)
end
local sep = string.find(entry, ':', 1, true)
local index = tonumber(string.sub(entry, 1, sep - 1))
local action = string.sub(entry, sep + 1)
local reward = tonumber(ARGV[6])
redis.call('HINCRBY', h, 'rc:' .. action, 1)
local prs = redis.call('HGET', h, 'rs:' .. action) or '0'
local ptotal = redis.call('HGET', h, 'total_reward') or '0'
local nrs = string.format('%.17g', tonumber(prs) + reward)
local ntotal = string.format('%.17g', tonumber(ptotal) + reward)
redis.call('HSET', h, 'rs:' .. action, nrs)
redis.call('HINCRBY', h, 'rewarded_steps', 1)
redis.call('HSET', h, 'total_reward', ntotal)
remember(rid, string.format('r:%d:%s:%s:%s:%s:%s', index, action, prs, ptotal, nrs, ntotal))
touch()
return reply(index, voided)
"""
)

# ARGV[6..]: step, call record. A record for a step at or before the latest call's is a replay: nothing is written.
_RECORD_CALL = (
    _PRELUDE
    + _PUSH_CALL
    + """
if not stored then redis.call('HSET', h, 'k', k); redis.call('DEL', tomb) end
local last = redis.call('LINDEX', calls, -1)
if not (last and call_step(last) >= tonumber(ARGV[6])) then push_call(ARGV[7]) end
touch()
return reply(0, voided)
"""
)

# ARGV[6..]: step, the call's record as read, the record with its outcome, outcome id. Compare-and-set: if the
# record read is no longer listed (another replica attached an outcome, or a user message came) it returns -8 and
# the caller reads again.
_RECORD_OUTCOME = (
    _PRELUDE
    + """
local oid = ARGV[9]
local again = replayed(oid, '^o:(%d+)')
if again then return again end
local list = redis.call('LRANGE', calls, 0, -1)
for i = #list, 1, -1 do
  if list[i] == ARGV[7] then
    redis.call('LSET', calls, i - 1, ARGV[8])
    remember(oid, string.format('o:%s:%d:%s%s', ARGV[6], #ARGV[7], ARGV[7], ARGV[8]))
    touch()
    return reply(tonumber(ARGV[6]), voided)
  end
end
return {-8, 0, {}, {}, {}, voided, {}}
"""
)

# ARGV[6]: message id. Empties the calls list (an unknown episode is not created).
_NEW_USER_MESSAGE = (
    _PRELUDE
    + """
local uid = ARGV[6]
local again = replayed(uid, nil)
if again then return again end
if not stored then return reply(0, voided) end
redis.call('DEL', calls)
remember(uid, 'u')
touch()
return reply(0, voided)
"""
)

# ARGV: the prelude's only (snap always '1'); a view never writes, except to settle a void.
_VIEW = _PRELUDE + "\nreturn reply(0, voided)\n"

# ARGV[6..]: expected t, then the state: n, n field/value pairs, m, m recent actions, p, p pending entries, c, c
# call records.
# Writes the state only if the episode's t is still the expected one (nobody else wrote meanwhile).
_SEED = (
    _PRELUDE
    + """
local t = tonumber(redis.call('HGET', h, 't') or '0')
if t ~= tonumber(ARGV[6]) then return {-6, t, {}, {}, {}, voided} end
redis.call('DEL', h, recent, pending, tomb, calls)
local i = 7
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do redis.call('HSET', h, ARGV[i], ARGV[i + 1]); i = i + 2 end
local m = tonumber(ARGV[i]); i = i + 1
for _ = 1, m do redis.call('RPUSH', recent, ARGV[i]); i = i + 1 end
local p = tonumber(ARGV[i]); i = i + 1
for _ = 1, p do redis.call('RPUSH', pending, ARGV[i]); i = i + 1 end
local c = tonumber(ARGV[i] or '0'); i = i + 1
for _ = 1, c do redis.call('RPUSH', calls, ARGV[i]); i = i + 1 end
touch()
return reply(0, voided)
"""
)


class HistoryStoreWarning(RuntimeWarning):
    """The history backend failed and the store went on with in-process history."""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    view: HistoryView
    pending: tuple[tuple[int, int], ...]
    entries: tuple[str, ...] = ()  # the calls' records as Redis holds them (view.calls, in order)
    texts: Mapping[int, Sequence[str]] = field(default_factory=dict)  # argument texts of calls awaiting outcomes


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(record: CallRecord, texts: Sequence[str]) -> str:
    """A call as its Redis record: a JSON array, ASCII (a lone surrogate in an argument survives the round trip)."""
    fields = [record.step, record.name, record.arguments, record.outcome, record.failed, record.error]
    return json.dumps([*fields, list(texts) if record.outcome is None else []], separators=(",", ":"))


def _call(entry: str) -> tuple[CallRecord, list[str]]:
    step, name, arguments, outcome, failed, error, texts = json.loads(entry)
    return CallRecord(int(step), name, arguments, outcome, bool(failed), error), texts


def _parse_snapshot(k: int, reply: Sequence[Any], previous: _Snapshot | None = None) -> _Snapshot:
    """The state in a script's reply; call records already parsed in ``previous`` are reused, not decoded again
    (a step usually adds one call to the up to 64 a view carries)."""
    flat = [_text(x) for x in reply[2]]
    fields: dict[str, str] = dict(zip(flat[0::2], flat[1::2], strict=True))
    recent = tuple(int(_text(x)) for x in reply[3])
    pending: list[tuple[int, int]] = []
    for item in reply[4]:
        index, _, action = _text(item).partition(":")
        pending.append((int(index), int(action)))
    last_exploration = fields.get("last_exploration_step")
    entries = tuple(_text(x) for x in reply[6]) if len(reply) > 6 else ()
    known = dict(zip(previous.entries, previous.view.calls, strict=True)) if previous is not None else {}
    calls: list[CallRecord] = []
    texts: dict[int, Sequence[str]] = {}
    for entry in entries:
        record = known.get(entry)
        waiting: Sequence[str]
        if record is None:
            record, waiting = _call(entry)
        else:
            waiting = previous.texts.get(record.step, ()) if previous is not None else ()
        calls.append(record)
        if record.outcome is None:
            texts[record.step] = waiting
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
        calls=tuple(calls),
    )
    return _Snapshot(view, tuple(pending), entries, texts)


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
    history.call_log.calls.extend(view.calls)
    history.call_log.texts = {step: list(texts) for step, texts in snapshot.texts.items()}
    return history


@dataclass(slots=True)
class _LocalEpisode:
    """An episode served from this process after a Redis failure, and the step it started from."""

    history: EpisodeHistory
    seeded_t: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    tried: float = field(default_factory=time.monotonic)


def _state_fields(view: HistoryView) -> list[str]:
    fields: list[str] = []
    scalars = {
        "k": view.k,
        "t": view.t,
        "tried": view.tried,
        "run_length": view.run_length,
        "rewarded_steps": view.rewarded_steps,
        "total_reward": f"{view.total_reward:.17g}",
        "interventions": view.interventions,
        "extra_agent_calls": view.extra_agent_calls,
    }
    if view.last_exploration_step is not None:
        scalars["last_exploration_step"] = view.last_exploration_step
    for name, value in scalars.items():
        fields += [name, str(value)]
    for action in range(view.k):
        if view.counts[action]:
            fields += [f"c:{action}", str(view.counts[action])]
        if view.reward_counts[action]:
            fields += [f"rc:{action}", str(view.reward_counts[action])]
            fields += [f"rs:{action}", f"{view.reward_sums[action]:.17g}"]
    return fields


def _args_of(view: HistoryView, pending: Sequence[tuple[int, int]], calls: Sequence[str]) -> list[str]:
    fields = _state_fields(view)
    recent = [str(a) for a in view.recent]
    entries = [f"{index}:{action}" for index, action in pending]
    return [
        *(str(len(fields) // 2), *fields, str(len(recent)), *recent, str(len(entries)), *entries),
        *(str(len(calls)), *calls),
    ]


def _state_args(snapshot: _Snapshot) -> list[str]:
    """The _SEED script's state arguments for a snapshot read from Redis."""
    return _args_of(snapshot.view, snapshot.pending, snapshot.entries)


def _history_args(history: EpisodeHistory) -> list[str]:
    """The _SEED script's state arguments for an in-process episode."""
    pending = [(index, history.steps[index].action) for index in history.pending_reward]
    log = history.call_log
    calls = [_entry(record, log.texts.get(record.step, ())) for record in log.calls]
    return _args_of(history.view(), pending, calls)


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
        cache_size: how many episodes' last states are kept, to re-seed an episode Redis lost and to seed a local
            fallback (0: none; then a lost episode restarts at step 0, unnoticed).
        rejoin_interval: with ``on_error="local"``, seconds between attempts to move a local episode back to Redis
            (None: only :meth:`rejoin` does).

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
        rejoin_interval: float | None = 5.0,
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
        if rejoin_interval is not None and not rejoin_interval >= 0:
            raise ConfigurationError(f"rejoin_interval must be >= 0 seconds or None, got {rejoin_interval!r}")
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
        self.rejoin_interval = rejoin_interval
        self._record_step = self.client.register_script(_RECORD_STEP)
        self._record_reward = self.client.register_script(_RECORD_REWARD)
        self._view = self.client.register_script(_VIEW)
        self._seed_script = self.client.register_script(_SEED)
        self._record_call = self.client.register_script(_RECORD_CALL)
        self._record_outcome = self.client.register_script(_RECORD_OUTCOME)
        self._new_user_message = self.client.register_script(_NEW_USER_MESSAGE)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[_Snapshot, float]] = OrderedDict()
        self._local: dict[str, _LocalEpisode] = {}
        self._void: dict[str, list[str]] = {}
        self._epoch: str | None = None
        self.fallbacks = 0
        """How many times an episode moved to in-process history after a Redis failure."""
        self.resets = 0
        """Episodes found missing from Redis although this replica knew them (a restart without persistence, an
        eviction) and re-seeded from what this replica held."""
        self.epoch_changes = 0
        """Times the epoch marker was found missing or changed: Redis lost its whole data set."""
        self.reconciled = 0
        """Local episodes written back to Redis when it answered again (nobody else had written them)."""
        self.conflicts = 0
        """Local episodes dropped on return because other replicas had written them in Redis meanwhile."""
        self.voided = 0
        """Timed-out step writes settled afterwards: cancelled before they arrived, or undone after."""
        self.unresolved = 0
        """Timed-out step writes that arrived and could not be undone (later steps, or a reward, came after)."""

    # -- keys and plumbing -----------------------------------------------------------------------------------
    def keys(self, episode: str) -> list[str]:
        """The Redis keys of an episode: its hash, recent-actions list, pending-rewards list, reset tombstone,
        step-id hash, step-id order list and calls list."""
        base = f"{self.prefix}{{{episode}}}"
        return [
            *(base, f"{base}:recent", f"{base}:pending", f"{base}:reset"),
            *(f"{base}:ids", f"{base}:order", f"{base}:calls"),
        ]

    @property
    def local_episodes(self) -> frozenset[str]:
        """Episodes this process serves from local memory after a Redis failure."""
        with self._lock:
            return frozenset(self._local)

    def _remember(self, episode: str, k: int, reply: Sequence[Any]) -> _Snapshot:
        with self._lock:
            cached = self._cache.get(episode)
        snapshot = _parse_snapshot(k, reply, cached[0] if cached is not None and cached[0].view.k == k else None)
        if self.cache_size:
            with self._lock:
                self._cache[episode] = (snapshot, time.monotonic())
                self._cache.move_to_end(episode)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return snapshot

    def _known(self, episode: str) -> tuple[_Snapshot | None, int]:
        """The last state this replica saw of the episode, and its t (0: unknown, or older than the TTL)."""
        with self._lock:
            cached = self._cache.get(episode)
        if cached is None:
            return None, 0
        snapshot, seen = cached
        if self.ttl is not None and time.monotonic() - seen > 0.9 * self.ttl:
            return snapshot, 0  # it may have expired legitimately: not a loss
        return snapshot, snapshot.view.t

    def _local_episode(self, episode: str, k: int) -> _LocalEpisode | None:
        with self._lock:
            entry = self._local.get(episode)
        if entry is None:
            return None
        if entry.history.k != k:
            raise InvalidInputError(f"episode {episode!r} has {entry.history.k} actions; this guard has {k}")
        if self.rejoin_interval is not None and time.monotonic() - entry.tried >= self.rejoin_interval:
            entry.tried = time.monotonic()
            if self._reconcile(episode, entry):
                return None
        return entry

    def _fail(self, operation: str, episode: str, k: int, error: BaseException) -> _LocalEpisode:
        """Raise HistoryStoreError, or move the episode to local memory (on_error="local")."""
        message = f"RedisHistoryStore.{operation} failed for episode {episode!r}: {type(error).__name__}: {error}"
        if self.on_error == "raise":
            raise HistoryStoreError(message) from error
        with self._lock:
            entry = self._local.get(episode)
            if entry is None:
                cached = self._cache.pop(episode, None)
                snapshot = cached[0] if cached else None
                entry = _LocalEpisode(_seed(snapshot, k, self.window), 0 if snapshot is None else snapshot.view.t)
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

    def _run(self, script: Any, episode: str, k: int, extra: Sequence[str]) -> Sequence[Any]:
        """Run an episode script (prelude arguments first); re-seed the episode once if Redis lost it."""
        if self._epoch is None:
            self._check_epoch()  # the first round trip of this store: learn the epoch marker
        for attempt in (1, 2):
            snapshot, known = self._known(episode)
            voids = self._voids(episode)
            args = [str(k), self._ttl_ms, "1", str(known), ",".join(voids), *extra]
            reply: Sequence[Any] = script(keys=self.keys(episode), args=args)
            status = int(reply[0])
            if status == -4 and attempt == 1:
                self._reseed(episode, k, snapshot)
                continue
            if status >= 0 and voids:
                self._settled(episode, voids, reply[5])
            return reply
        raise HistoryStoreError(f"RedisHistoryStore: episode {episode!r} was lost again while being re-seeded")

    def _voids(self, episode: str) -> list[str]:
        with self._lock:
            return list(self._void.get(episode, ()))

    def _lost(self, episode: str, write_id: str) -> None:
        """A write whose outcome is unknown (it timed out): the next operation on the episode settles it."""
        with self._lock:
            lost = self._void.setdefault(episode, [])
            if len(lost) < _MAX_VOIDS:
                lost.append(write_id)

    def _settled(self, episode: str, voids: list[str], outcomes: bytes | str) -> None:
        codes = [int(c) for c in _text(outcomes).split(",") if c]
        with self._lock:
            left = [v for v in self._void.get(episode, []) if v not in voids]
            if left:
                self._void[episode] = left
            else:
                self._void.pop(episode, None)
            self.voided += sum(1 for c in codes if c in (1, 2))
            unresolved = sum(1 for c in codes if c == 3)
            self.unresolved += unresolved
        if unresolved:
            warnings.warn(
                f"RedisHistoryStore: {unresolved} timed-out write(s) of episode {episode!r} were applied by Redis "
                "after the caller was told they failed, and later writes make them impossible to undo; the episode "
                "counts them",
                HistoryStoreWarning,
                stacklevel=4,
            )

    def _reseed(self, episode: str, k: int, snapshot: _Snapshot | None) -> None:
        """Redis lost an episode this replica knew: warn, count, write back the last state this replica saw."""
        epoch = self._check_epoch()
        with self._lock:
            self.resets += 1
            self._cache.pop(episode, None)
        what = "Redis lost its data (its epoch marker changed)" if epoch else "the episode is missing from Redis"
        if snapshot is None:
            warnings.warn(
                f"RedisHistoryStore: {what}: episode {episode!r} restarts at step 0", HistoryStoreWarning, stacklevel=4
            )
            return
        reply = self._seed_script(
            keys=self.keys(episode), args=[str(k), self._ttl_ms, "1", "0", "", "0", *_state_args(snapshot)]
        )
        if int(reply[0]) == 0:
            self._remember(episode, k, reply)
            detail = f"re-seeded at step {snapshot.view.t} from this replica's last state"
        else:
            detail = f"another replica already restarted it (now at step {int(reply[1])})"
        warnings.warn(f"RedisHistoryStore: {what}: episode {episode!r} {detail}", HistoryStoreWarning, stacklevel=4)

    def _check_epoch(self) -> bool:
        """Read the epoch marker (creating it if missing); True when it changed since this store last read it."""
        key = f"{self.prefix}epoch"
        fresh = uuid.uuid4().hex
        self.client.set(key, fresh, nx=True)
        value = _text(self.client.get(key) or b"")
        changed = self._epoch is not None and value != self._epoch
        self._epoch = value
        if changed:
            with self._lock:
                self.epoch_changes += 1
        return changed

    def _current(self, episode: str, entry: _LocalEpisode) -> bool:
        """Whether ``entry`` still serves the episode (it has not gone back to Redis meanwhile)."""
        with self._lock:
            return self._local.get(episode) is entry

    def _reconcile(self, episode: str, entry: _LocalEpisode) -> bool:
        """Move a local episode back to Redis; True when it is no longer local. The rule: if Redis still holds the
        episode at the step the local copy started from (no replica wrote it since), the local state is written
        to Redis (nothing lost); otherwise Redis has moved on without us and wins: the local steps are dropped,
        counted in ``conflicts`` and warned about. Holds the episode's local lock throughout, so no local write
        slips in between reading the local state and leaving it."""
        with entry.lock:
            if not self._current(episode, entry):
                return True  # another thread moved it back already
            state = _history_args(entry.history)
            k = entry.history.k
            local_t = len(entry.history.steps)
            voids = self._voids(episode)
            args = [str(k), self._ttl_ms, "1", "0", ",".join(voids), str(entry.seeded_t), *state]
            try:
                reply = self._seed_script(keys=self.keys(episode), args=args)
            except self._errors:
                return False
            status = int(reply[0])
            if status == -1:
                raise InvalidInputError(f"episode {episode!r} has {int(reply[1])} actions; this guard has {k}")
            with self._lock:
                self._local.pop(episode, None)
        if voids and len(reply) > 5:
            self._settled(episode, voids, reply[5])
        if status == 0:
            self._remember(episode, k, reply)
            with self._lock:
                self.reconciled += 1
            return True
        with self._lock:
            self.conflicts += 1
        warnings.warn(
            f"RedisHistoryStore: episode {episode!r} was written by another replica while this one held it locally "
            f"(Redis at step {int(reply[1])}, local copy at step {local_t} from step {entry.seeded_t}); "
            "Redis is kept and the local steps are dropped",
            HistoryStoreWarning,
            stacklevel=4,
        )
        return True

    @staticmethod
    def _check(episode: str, k: int, reply: Sequence[Any]) -> None:
        status = int(reply[0])
        if status == -1:
            raise InvalidInputError(f"episode {episode!r} has {int(reply[1])} actions; this guard has {k}")
        if status == -2:
            raise InvalidInputError("no step of this episode is waiting for a reward")
        if status == -7:
            raise HistoryStoreError(f"RedisHistoryStore: a cancelled write of episode {episode!r} was retried")

    # -- HistoryStore ----------------------------------------------------------------------------------------
    def view(self, episode: str, k: int) -> HistoryView:
        """The episode's statistics now (one round trip)."""
        while True:
            local = self._local_episode(episode, k)
            if local is None:
                try:
                    reply = self._run(self._view, episode, k, ())
                except self._errors as error:
                    local = self._fail("view", episode, k, error)
                else:
                    self._check(episode, k, reply)
                    return self._remember(episode, k, reply).view
            with local.lock:
                if self._current(episode, local):
                    return local.history.view()

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
        """Append an executed action with what guarding it cost; returns its step index (atomic).

        Each write carries a fresh id (a replay of it is applied once). A write that times out has an unknown
        outcome: the next operation on the episode settles it (cancelled if it has not arrived, undone if it was
        applied and is still the latest, unrewarded step), so it never shifts the next step's index.
        """
        return self._write_step(episode, k, action, interventions, extra_agent_calls, explored, None)

    def _write_step(
        self,
        episode: str,
        k: int,
        action: int,
        interventions: int,
        extra_agent_calls: int,
        explored: bool,
        call: tuple[str, Mapping[str, Any] | None] | None,
    ) -> int:
        """record_step, with the step's call (tool name, arguments) in the same script when ``call`` is given."""
        if not 0 <= action < k:
            raise InvalidInputError(f"action index {action} is outside 0..{k - 1}")
        operation = "record_step" if call is None else "record_step_call"
        tail = ""
        if call is not None:  # the record without its leading "[step," (the script knows the index)
            name, arguments = call
            record = CallRecord(0, name, canonical_arguments(arguments))
            tail = _entry(record, argument_texts(arguments)).partition(",")[2]
        while True:
            local = self._local_episode(episode, k)
            if local is None:
                step_id = uuid.uuid4().hex
                args = (
                    str(action),
                    str(self.window),
                    str(int(interventions)),
                    str(int(extra_agent_calls)),
                    "1" if explored else "0",
                    step_id,
                    tail,
                )
                try:
                    reply = self._run(self._record_step, episode, k, args)
                except self._errors as error:
                    self._lost(episode, step_id)
                    local = self._fail(operation, episode, k, error)
                else:
                    self._check(episode, k, reply)
                    self._remember(episode, k, reply)
                    return int(reply[1])
            with local.lock:
                if not self._current(episode, local):
                    continue  # it went back to Redis meanwhile: write there
                return local.history.add_step(
                    action,
                    interventions=interventions,
                    extra_agent_calls=extra_agent_calls,
                    explored=explored,
                    call=call,
                )

    def record_reward(self, episode: str, k: int, reward: float, *, step: int | None = None) -> int:
        """Attach a reward to the episode's oldest unrewarded step (or ``step``); returns its index (atomic).

        Idempotent by reward id like :meth:`record_step`; a reward that timed out is settled by the next operation
        (cancelled, or undone if no reward of that action came after it), so a retry never counts it twice.
        """
        while True:
            local = self._local_episode(episode, k)
            if local is None:
                reward_id = uuid.uuid4().hex
                args = (repr(float(reward)), "" if step is None else str(int(step)), reward_id)
                try:
                    reply = self._run(self._record_reward, episode, k, args)
                except self._errors as error:
                    self._lost(episode, reward_id)
                    local = self._fail("record_reward", episode, k, error)
                else:
                    if int(reply[0]) == -3:
                        raise InvalidInputError(f"step {step} is not waiting for a reward")
                    self._check(episode, k, reply)
                    self._remember(episode, k, reply)
                    return int(reply[1])
            with local.lock:
                if self._current(episode, local):
                    return local.history.add_reward(float(reward), step)

    # -- CallHistoryStore ------------------------------------------------------------------------------------
    def record_step_call(
        self,
        episode: str,
        k: int,
        action: int,
        name: str,
        arguments: Mapping[str, Any] | None,
        *,
        interventions: int = 0,
        extra_agent_calls: int = 0,
        explored: bool = False,
    ) -> int:
        """:meth:`record_step` and :meth:`record_call` of that step in one script (what the Guard uses): no replica
        ever reads the step without its call, and a retried or timed-out write records neither twice."""
        return self._write_step(episode, k, action, interventions, extra_agent_calls, explored, (name, arguments))

    def record_call(self, episode: str, k: int, step: int, name: str, arguments: Mapping[str, Any] | None) -> None:
        """Record the call executed at ``step`` (recorded with :meth:`record_step` just before).

        Idempotent by step: a record for a step at or before the latest recorded call's is a replay, and ignored.
        """
        entry = _entry(CallRecord(step, name, canonical_arguments(arguments)), argument_texts(arguments))
        while True:
            local = self._local_episode(episode, k)
            if local is None:
                try:
                    reply = self._run(self._record_call, episode, k, (str(int(step)), entry))
                except self._errors as error:
                    local = self._fail("record_call", episode, k, error)
                else:
                    self._check(episode, k, reply)
                    self._remember(episode, k, reply)
                    return
            with local.lock:
                if self._current(episode, local):
                    local.history.call_log.add(step, name, arguments)
                    return

    def record_outcome(
        self, episode: str, k: int, *, result: str | None, error: str | None, step: int | None = None
    ) -> int:
        """Attach a result or an error to the latest call waiting for one (or ``step``); returns its step.

        Two round trips: the calls are read, the outcome's digest computed here (as the in-memory store computes
        it), and the call's record replaced only if it is still the one read (else read again). Idempotent by
        outcome id like :meth:`record_step`: one that timed out is settled by the next operation (cancelled, or
        the record put back), so a retry attaches it once, to the same call.
        """
        for _ in range(_OUTCOME_TRIES):
            local = self._local_episode(episode, k)
            if local is None:
                outcome_id, sent = uuid.uuid4().hex, False
                try:
                    reply = self._run(self._view, episode, k, ())
                    self._check(episode, k, reply)
                    snapshot = self._remember(episode, k, reply)
                    calls = snapshot.view.calls
                    if not calls and snapshot.view.t == 0:
                        raise InvalidInputError(f"no call of episode {episode!r} is waiting for an outcome")
                    index = waiting_call(calls, step)
                    record = calls[index]
                    updated = with_outcome(record, snapshot.texts.get(record.step, ()), result, error)
                    args = (str(record.step), snapshot.entries[index], _entry(updated, ()), outcome_id)
                    sent = True
                    reply = self._run(self._record_outcome, episode, k, args)
                except self._errors as failure:
                    if sent:
                        self._lost(episode, outcome_id)
                    local = self._fail("record_outcome", episode, k, failure)
                else:
                    if int(reply[0]) == -8:
                        continue  # the call changed since it was read (another replica): read it again
                    self._check(episode, k, reply)
                    self._remember(episode, k, reply)
                    return record.step
            with local.lock:
                if self._current(episode, local):
                    return local.history.call_log.add_outcome(result, error, step)
        raise HistoryStoreError(
            f"RedisHistoryStore.record_outcome: the calls of episode {episode!r} kept changing while it was recorded"
        )

    def new_user_message(self, episode: str, k: int) -> None:
        """A new user message arrived: the episode's calls are forgotten, so its loop counters start again (an
        unknown episode: nothing). Carries a write id: one that timed out and had not arrived is cancelled by the
        next operation."""
        while True:
            local = self._local_episode(episode, k)
            if local is None:
                message_id = uuid.uuid4().hex
                try:
                    reply = self._run(self._new_user_message, episode, k, (message_id,))
                except self._errors as error:
                    self._lost(episode, message_id)
                    local = self._fail("new_user_message", episode, k, error)
                else:
                    self._check(episode, k, reply)
                    self._remember(episode, k, reply)
                    return
            with local.lock:
                if self._current(episode, local):
                    local.history.call_log.new_user_message()
                    return

    def reset(self, episode: str) -> None:
        """Forget an episode, in Redis and in this process (other replicas see a reset, not a loss)."""
        with self._lock:
            self._local.pop(episode, None)
            self._cache.pop(episode, None)
            self._void.pop(episode, None)
        keys = self.keys(episode)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(keys[0], keys[1], keys[2], keys[4], keys[5], keys[6])
            pipe.set(keys[3], "1", px=int(self._ttl_ms) if self._ttl_ms != "0" else 7 * 24 * 3600 * 1000)
            pipe.execute()
        except self._errors as error:
            message = f"RedisHistoryStore.reset failed for episode {episode!r}: {type(error).__name__}: {error}"
            if self.on_error == "raise":
                raise HistoryStoreError(message) from error
            warnings.warn(f"{message}; the Redis keys expire with their TTL", HistoryStoreWarning, stacklevel=2)

    # -- beyond the protocol ---------------------------------------------------------------------------------
    def rejoin(self, episode: str) -> bool:
        """Move a locally held episode back to Redis now, by the rule of :meth:`_reconcile`: its local state is
        written to Redis if no other replica wrote the episode meanwhile, else Redis is kept (a warning, counted
        in ``conflicts``). False when Redis still does not answer (the episode stays local)."""
        with self._lock:
            entry = self._local.get(episode)
        if entry is None:
            return True
        return self._reconcile(episode, entry)

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
