"""The error-group index in Redis: what the ops view reads instead of scanning raw events.

Every BFF task updates it at ingest time with one Lua script call (one round trip, O(1) in the
number of events): per fingerprint the count, first and last seen, releases and routes with
their counts, a sample event (with its symbolicated stack), per-minute counts for the last 24 h
(a ring of 1,440 slots, each holding ``minute * 2**24 + count``, so a slot from yesterday
reads as 0 and a count is exact up to 16.7 million events per group and minute), the
latest occurrences (incident code, request id) and the resolution state; globally, client
errors per minute. Proxied requests per minute (all, 4xx, 5xx) are added by ``TrafficCounter``
in batches. Keys live under one prefix; a group's keys expire ``GROUP_TTL_SECONDS`` after its
last event, per-minute traffic after 25 h.

A group marked resolved reopens when an event arrives in a release the index first saw after
the resolution (a newer release); events of older releases are counted and leave it resolved.

Redis is the one configured for the rate limits (``BFF_RATELIMIT_STORAGE_URI=redis://...``);
without it there is no index (``index_from_uri`` answers ``None``) and the ops view says so.
The scripts build key names from the prefix, so the index needs a single Redis node (or one
cluster slot), as ElastiCache's non-cluster replication group is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import redis
from redis.commands.core import Script

log = logging.getLogger("bff.ops.index")

PREFIX: Final = "bff:errors:"
RING_MINUTES: Final = 1440  # per-minute counts kept per group (24 h)
MINUTE_STAMP: Final = 1 << 24  # a ring slot holds minute * 2**24 + count (exact below 2**24)
GROUP_TTL_SECONDS: Final = 14 * 86_400  # a group is forgotten this long after its last event
TRAFFIC_TTL_SECONDS: Final = 25 * 3600
LATEST_OCCURRENCES: Final = 20
SAMPLE_MAX_BYTES: Final = 32 * 1024
LIST_RELEASES: Final = 10
PAGE_ENTRIES: Final = 50
TIMEOUT_SECONDS: Final = 0.25

_RECORD_LUA: Final = """
local p = ARGV[1]
local ttl, ring, keep = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local traffic_ttl = tonumber(ARGV[5])
local function record(a)
  local fp = ARGV[a]
  local now, minute = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local release, route, session = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local g = p .. 'g:' .. fp
  local state = redis.call('HMGET', g, 'first_seen', 'status', 'resolved_at')
  local is_new = state[1] and 0 or 1
  local status = state[2] or 'open'
  redis.call('HSET', g, 'last_seen', now, 'type', ARGV[a + 6], 'message', ARGV[a + 7],
    'sample', ARGV[a + 8], 'first_seen', state[1] or now,
    'last_release', release ~= '' and release or (redis.call('HGET', g, 'last_release') or ''))
  local count = redis.call('HINCRBY', g, 'count', 1)
  local reopened = 0
  if release ~= '' then
    redis.call('ZINCRBY', g .. ':releases', 1, release)
    redis.call('ZADD', p .. 'releases', 'NX', now, release)
    if status == 'resolved' then
      local resolved_at = tonumber(state[3])
      local first = tonumber(redis.call('ZSCORE', p .. 'releases', release))
      if first > resolved_at then
        redis.call('HSET', g, 'status', 'open', 'reopened_at', now, 'reopened_in', release)
        redis.call('HDEL', g, 'resolved_at', 'resolved_release')
        redis.call('ZREM', p .. 'resolved:by_count', fp)
        redis.call('ZREM', p .. 'resolved:by_last', fp)
        status = 'open'
        reopened = 1
      end
    end
  end
  redis.call('ZADD', p .. 'by_count', count, fp)
  redis.call('ZADD', p .. 'by_last', now, fp)
  redis.call('ZADD', p .. status .. ':by_count', count, fp)
  redis.call('ZADD', p .. status .. ':by_last', now, fp)
  if route ~= '' then redis.call('ZINCRBY', g .. ':routes', 1, route) end
  if session ~= '' then redis.call('PFADD', g .. ':sessions', session) end
  redis.call('LPUSH', g .. ':latest', ARGV[a + 9])
  redis.call('LTRIM', g .. ':latest', 0, keep - 1)
  local t = p .. 't:' .. minute
  redis.call('HINCRBY', t, 'client_errors', 1)
  local slot = minute % ring
  local stamped = tonumber(redis.call('HGET', g .. ':m', slot))
  if stamped and math.floor(stamped / 16777216) == minute then
    redis.call('HINCRBY', g .. ':m', slot, 1)
    return is_new, reopened, count
  end
  -- The group's first event in this minute: start the slot, and (once a minute, not per event)
  -- refresh the expiries and forget groups idle for longer than the TTL.
  redis.call('HSET', g .. ':m', slot, minute * 16777216 + 1)
  redis.call('EXPIRE', t, traffic_ttl)
  for _, suffix in ipairs({'', ':releases', ':routes', ':sessions', ':m', ':latest'}) do
    redis.call('EXPIRE', g .. suffix, ttl)
  end
  local gone = redis.call('ZRANGEBYSCORE', p .. 'by_last', '-inf', now - ttl * 1000, 'LIMIT', 0, 10)
  for _, old in ipairs(gone) do
    for _, set in ipairs({'by_last', 'by_count', 'open:by_last', 'open:by_count',
                          'resolved:by_last', 'resolved:by_count'}) do
      redis.call('ZREM', p .. set, old)
    end
  end
  return is_new, reopened, count
end
local out = {}
for a = 6, #ARGV, 10 do
  local is_new, reopened, count = record(a)
  out[#out + 1] = is_new
  out[#out + 1] = reopened
  out[#out + 1] = count
end
return out
"""

# The list walks the status's groups by count (or by last event) and keeps those with an event
# since the window's start until it has ``limit``: cost grows with the groups it answers and
# the frequent groups idle in the window, never with the number of events. ``matched`` is one
# ZCOUNT. Timestamps stay strings (cjson would print them in floating point).
_LIST_LUA: Final = """
local p, since, status, sort = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local limit, minute, spark, ring = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]),
  tonumber(ARGV[8])
local nrel = tonumber(ARGV[9])
local set = status == 'all' and '' or (status .. ':')
local by_last = p .. set .. 'by_last'
local matched = redis.call('ZCOUNT', by_last, since, '+inf')
local slots = {}
for i = spark - 1, 0, -1 do slots[#slots + 1] = (minute - i) % ring end
local out, start, chunk = {}, 0, 200
while #out < limit and #out < matched do
  local fps
  if sort == 'last_seen' then
    fps = redis.call('ZREVRANGEBYSCORE', by_last, '+inf', since, 'LIMIT', start, chunk)
  else
    fps = redis.call('ZREVRANGE', p .. set .. 'by_count', start, start + chunk - 1)
  end
  if #fps == 0 then break end
  for _, fp in ipairs(fps) do
    if #out < limit and (sort == 'last_seen' or
        (tonumber(redis.call('ZSCORE', by_last, fp)) or 0) >= since) then
      local g = p .. 'g:' .. fp
      local h = redis.call('HMGET', g, 'last_seen', 'status', 'count', 'first_seen', 'type',
        'message', 'last_release', 'resolved_at', 'resolved_release', 'reopened_at',
        'reopened_in')
      local stamped = redis.call('HMGET', g .. ':m', unpack(slots))
      local series = {}
      for i = 1, spark do
        local v = tonumber(stamped[i])
        if v and math.floor(v / 16777216) == minute - spark + i then
          series[i] = v % 16777216
        else
          series[i] = 0
        end
      end
      local releases = redis.call('ZREVRANGE', g .. ':releases', 0, nrel - 1)
      local routes = redis.call('ZREVRANGE', g .. ':routes', 0, nrel - 1)
      local sessions = redis.call('PFCOUNT', g .. ':sessions')
      out[#out + 1] = {fp, h, series, releases, routes, sessions}
    end
  end
  start = start + chunk
end
-- One JSON string: the client parses it in one call instead of thousands of reply items.
return cjson.encode({matched, out})
"""

_RESOLVE_LUA: Final = """
local p, fp, status = ARGV[1], ARGV[2], ARGV[3]
local g = p .. 'g:' .. fp
if redis.call('EXISTS', g) == 0 then return 0 end
local before = redis.call('HGET', g, 'status') or 'open'
if status == 'resolved' then
  local release = redis.call('HGET', g, 'last_release') or ''
  redis.call('HSET', g, 'status', 'resolved', 'resolved_at', ARGV[4], 'resolved_release', release)
  redis.call('HDEL', g, 'reopened_at', 'reopened_in')
else
  redis.call('HSET', g, 'status', 'open')
  redis.call('HDEL', g, 'resolved_at', 'resolved_release')
end
if before ~= status then
  local count = redis.call('ZSCORE', p .. 'by_count', fp)
  local last = redis.call('ZSCORE', p .. 'by_last', fp)
  redis.call('ZREM', p .. before .. ':by_count', fp)
  redis.call('ZREM', p .. before .. ':by_last', fp)
  if count and last then
    redis.call('ZADD', p .. status .. ':by_count', count, fp)
    redis.call('ZADD', p .. status .. ':by_last', last, fp)
  end
end
return 1
"""

_GROUP_FIELDS: Final = (
    "last_seen",
    "status",
    "count",
    "first_seen",
    "type",
    "message",
    "last_release",
    "resolved_at",
    "resolved_release",
    "reopened_at",
    "reopened_in",
)


class IndexUnavailable(Exception):
    """The index could not be read or written; the message says why."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one ingest did to its group: ``new`` (first event), ``reopened``, the new count."""

    new: bool
    reopened: bool
    count: int


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    if value is None or value is False:  # False: a missing field in a cjson reply
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    if value is None or value is False:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def sample_json(
    timestamp_iso: str, message: str, request_id: str | None, data: Mapping[str, Any]
) -> bytes:
    """The sample event as stored, at most ``SAMPLE_MAX_BYTES`` (breadcrumbs go first, then
    everything but the facts and the stack)."""
    data = dict(data)  # a plain dict (the ingest hands in logship's RedactedData mapping)
    event = {"timestamp": timestamp_iso, "message": message, "request_id": request_id, "data": data}
    encoded = orjson.dumps(event)
    if len(encoded) <= SAMPLE_MAX_BYTES:
        return encoded
    slim = {key: value for key, value in data.items() if key != "breadcrumbs"}
    encoded = orjson.dumps({**event, "data": {**slim, "sample_trimmed": True}})
    if len(encoded) <= SAMPLE_MAX_BYTES:
        return encoded
    keep = ("source", "kind", "incident", "fingerprint", "release", "type", "route", "url")
    facts: dict[str, Any] = {key: _text(data.get(key), 1000) or None for key in keep}
    facts["message"] = _text(data.get("message"), 2000)
    facts["frames"] = data.get("frames", [])[:50] if isinstance(data.get("frames"), list) else []
    facts["sample_trimmed"] = True
    encoded = orjson.dumps({**event, "message": message[:1024], "data": facts})
    return encoded[:SAMPLE_MAX_BYTES] if len(encoded) > SAMPLE_MAX_BYTES else encoded


class ErrorIndex:
    """The index over one Redis connection pool; every call raises ``IndexUnavailable`` on a
    Redis failure, so callers decide: ingest keeps logging, the ops view answers 503."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = PREFIX,
        clock: Callable[[], float] = time.time,
        group_ttl: int = GROUP_TTL_SECONDS,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self.group_ttl = group_ttl
        self._record: Script = client.register_script(_RECORD_LUA)
        self._list: Script = client.register_script(_LIST_LUA)
        self._resolve: Script = client.register_script(_RESOLVE_LUA)

    def _call(self, what: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except (redis.RedisError, OSError) as exc:
            raise IndexUnavailable(f"the error index (Redis) cannot be {what}: {exc}") from None

    def record_args(
        self,
        fingerprint: str,
        data: Mapping[str, Any],
        *,
        sample: bytes,
        request_id: str | None,
        now_ms: int | None = None,
    ) -> tuple[Any, ...]:
        """The ingest script's arguments for one accepted event of group ``fingerprint``."""
        now = int(self.clock() * 1000) if now_ms is None else now_ms
        occurrence = orjson.dumps(
            {
                "t": now,
                "incident": data.get("incident"),
                "request_id": request_id,
                "release": data.get("release"),
                "route": data.get("route"),
                "failed_request_ids": list(data.get("request_ids") or [])[:5],
            }
        )
        return (
            fingerprint,
            now,
            now // 60_000,
            _text(data.get("release"), 100),
            _text(data.get("route"), 200),
            _text(data.get("session"), 100),
            _text(data.get("type"), 200) or "Error",
            _text(data.get("message"), 1000),
            sample,
            occurrence,
        )

    def record_many(self, batch: Sequence[tuple[Any, ...]]) -> list[Recorded]:
        """Run the ingest script once for every event of ``batch`` (``record_args``): one
        command, one round trip."""
        args: list[Any] = [
            self.prefix,
            self.group_ttl,
            RING_MINUTES,
            LATEST_OCCURRENCES,
            TRAFFIC_TTL_SECONDS,
        ]
        for event in batch:
            args.extend(event)
        flat = self._call("written", lambda: self._record(args=args))
        return [
            Recorded(bool(flat[i]), bool(flat[i + 1]), int(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    def record(
        self,
        fingerprint: str,
        data: Mapping[str, Any],
        *,
        sample: bytes,
        request_id: str | None,
        now_ms: int | None = None,
    ) -> Recorded:
        """Count one accepted event of group ``fingerprint`` (one round trip)."""
        args = self.record_args(
            fingerprint, data, sample=sample, request_id=request_id, now_ms=now_ms
        )
        return self.record_many([args])[0]

    def groups(
        self,
        *,
        since_ms: int,
        status: str = "open",
        sort: str = "count",
        limit: int = 100,
        spark_minutes: int = 60,
        now_ms: int | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Groups with an event since ``since_ms`` (``status``: open, resolved, all), most
        frequent (or most recent) first, at most ``limit``; with how many matched in all."""
        now = int(self.clock() * 1000) if now_ms is None else now_ms
        args = (
            self.prefix,
            since_ms,
            status,
            sort,
            limit,
            now // 60_000,
            spark_minutes,
            RING_MINUTES,
            LIST_RELEASES,
        )
        matched, rows = orjson.loads(self._call("read", lambda: self._list(args=args)))
        groups = []
        for fingerprint, fields, series, releases, routes, sessions in rows:
            releases = releases or []  # cjson writes an empty table as {}
            routes = routes or []
            group = _group_fields(_str(fingerprint) or "", fields)
            group.update(
                sparkline=[int(v) for v in series],
                releases=[_str(r) for r in releases],
                routes=[_str(r) for r in routes],
                sessions=int(sessions),
            )
            groups.append(group)
        return int(matched), groups

    def group(
        self, fingerprint: str, *, minutes: int = RING_MINUTES, now_ms: int | None = None
    ) -> dict[str, Any] | None:
        """Everything the index holds on one group, or ``None`` when it does not exist."""
        now = int(self.clock() * 1000) if now_ms is None else now_ms
        g = f"{self.prefix}g:{fingerprint}"
        minute = now // 60_000
        slots = [(minute - i) % RING_MINUTES for i in range(minutes - 1, -1, -1)]

        def read() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(g, [*_GROUP_FIELDS, "sample"])
            pipe.zrevrange(f"{g}:releases", 0, PAGE_ENTRIES - 1, withscores=True)
            pipe.zrevrange(f"{g}:routes", 0, PAGE_ENTRIES - 1, withscores=True)
            pipe.lrange(f"{g}:latest", 0, LATEST_OCCURRENCES - 1)
            pipe.hmget(f"{g}:m", slots)
            pipe.pfcount(f"{g}:sessions")
            return list(pipe.execute())

        fields, releases, routes, latest, stamped, sessions = self._call("read", read)
        if fields[0] is None:
            return None
        group = _group_fields(fingerprint, fields[:-1])
        release_names = [_str(name) or "" for name, _ in releases]
        first_seen: list[Any] = (
            self._call("read", lambda: self.client.zmscore(f"{self.prefix}releases", release_names))
            if release_names
            else []
        )
        series = []
        for offset, raw in enumerate(stamped):
            expected = minute - minutes + 1 + offset
            value = _int(raw)
            count = (
                value % MINUTE_STAMP
                if value is not None and value // MINUTE_STAMP == expected
                else 0
            )
            series.append({"t": expected * 60_000, "count": count})
        group.update(
            sessions=int(sessions),
            releases=[
                {"release": name, "count": int(score), "first_seen": _int(first)}
                for name, (_, score), first in zip(release_names, releases, first_seen, strict=True)
            ],
            routes=[{"route": _str(name), "count": int(score)} for name, score in routes],
            latest=[orjson.loads(entry) for entry in latest],
            minutes=series,
            sample=orjson.loads(fields[-1]) if fields[-1] else None,
        )
        return group

    def set_status(self, fingerprint: str, status: str, *, now_ms: int | None = None) -> bool:
        """Mark a group ``resolved`` (at its last release) or ``open``; False when unknown."""
        now = int(self.clock() * 1000) if now_ms is None else now_ms
        args = (self.prefix, fingerprint, status, now)
        return bool(self._call("written", lambda: self._resolve(args=args)))

    def add_traffic(self, minutes: Mapping[int, Sequence[int]]) -> None:
        """Add requests, 4xx and 5xx per minute (one pipeline)."""
        if not minutes:
            return

        def write() -> None:
            pipe = self.client.pipeline(transaction=False)
            for minute, (requests, errors_4xx, errors_5xx) in minutes.items():
                key = f"{self.prefix}t:{minute}"
                pipe.hincrby(key, "requests", requests)
                if errors_4xx:
                    pipe.hincrby(key, "errors_4xx", errors_4xx)
                if errors_5xx:
                    pipe.hincrby(key, "errors_5xx", errors_5xx)
                pipe.expire(key, TRAFFIC_TTL_SECONDS)
            pipe.execute()

        self._call("written", write)

    def traffic(self, first_minute: int, minutes: int) -> list[dict[str, int]]:
        """Requests, 4xx, 5xx and client errors for each minute from ``first_minute``."""
        names = ("requests", "errors_4xx", "errors_5xx", "client_errors")

        def read() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for minute in range(first_minute, first_minute + minutes):
                pipe.hmget(f"{self.prefix}t:{minute}", names)
            return list(pipe.execute())

        rows = self._call("read", read)
        return [
            {
                "minute": first_minute + i,
                **{n: _int(v) or 0 for n, v in zip(names, row, strict=True)},
            }
            for i, row in enumerate(rows)
        ]


def _group_fields(fingerprint: str, fields: Sequence[Any]) -> dict[str, Any]:
    values = dict(zip(_GROUP_FIELDS, fields, strict=True))
    return {
        "fingerprint": fingerprint,
        "status": _str(values["status"]) or "open",
        "count": _int(values["count"]) or 0,
        "first_seen": _int(values["first_seen"]),
        "last_seen": _int(values["last_seen"]),
        "type": _str(values["type"]) or "Error",
        "message": _str(values["message"]) or "",
        "last_release": _str(values["last_release"]) or None,
        "resolved_at": _int(values["resolved_at"]),
        "resolved_release": _str(values["resolved_release"]) or None,
        "reopened_at": _int(values["reopened_at"]),
        "reopened_in": _str(values["reopened_in"]),
    }


def index_from_uri(uri: str, **kwargs: Any) -> ErrorIndex | None:
    """The index on the Redis of ``uri`` (``redis://`` or ``rediss://``); ``None`` otherwise."""
    if not uri.startswith(("redis://", "rediss://")):
        return None
    client = redis.Redis.from_url(
        uri,
        socket_connect_timeout=TIMEOUT_SECONDS,
        socket_timeout=TIMEOUT_SECONDS,
        health_check_interval=30,
    )
    return ErrorIndex(client, **kwargs)


class TrafficCounter:
    """Proxied requests per minute, counted by this worker's access path in memory
    and added to the index every ``interval`` seconds by a background thread (a greenlet under
    gevent), so a proxied request never waits for Redis. A failed flush keeps the counts (the
    last 24 h) for the next one; a worker that dies loses at most ``interval`` seconds."""

    def __init__(self, index: ErrorIndex, interval: float = 2.0) -> None:
        self.index = index
        self.interval = interval
        self.pending: dict[int, list[int]] = {}
        self.failures = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def count(self, status: int, now: float | None = None) -> None:
        """Count one answered request."""
        minute = int((time.time() if now is None else now) // 60)
        with self._lock:
            row = self.pending.get(minute)
            if row is None:
                row = self.pending[minute] = [0, 0, 0]
            row[0] += 1
            if 400 <= status <= 499:
                row[1] += 1
            elif 500 <= status <= 599:
                row[2] += 1
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="ops-traffic", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> bool:
        """Add what was counted to the index; True when nothing is left pending."""
        with self._lock:
            taken, self.pending = self.pending, {}
        if not taken:
            return True
        try:
            self.index.add_traffic(taken)
        except IndexUnavailable:
            self.failures += 1
            oldest = int(time.time() // 60) - RING_MINUTES
            with self._lock:
                for minute, row in taken.items():
                    if minute < oldest:
                        continue
                    kept = self.pending.setdefault(minute, [0, 0, 0])
                    for i, value in enumerate(row):
                        kept[i] += value
            return False
        return True

    def stop(self) -> None:
        """Stop the thread after a last flush."""
        self._stop.set()
        self.flush()


RETRY_SECONDS: Final = 5.0
WARN_INTERVAL_SECONDS: Final = 60.0


MAX_PENDING: Final = 10_000  # events waiting for the index in one worker, at most
MAX_ROUNDS: Final = 1  # batches a request writes (its own event is in the first) before a
# thread takes over the queue, so that no request waits for other requests' events


class IndexFeed:
    """The ingest's side of the index: records accepted events and never raises.

    Group commit: a request that finds no write in progress writes its event and every event
    queued meanwhile by the worker's other requests (one pipelined round trip per batch), so
    under load one round trip carries many events and a request rarely waits for Redis; a
    single client's request returns after its own event is in the index. After a failure it
    leaves Redis alone for ``RETRY_SECONDS`` (an outage adds no latency to ingest, whose events
    are logged either way) and warns at most once a minute."""

    def __init__(self, index: ErrorIndex) -> None:
        self.index = index
        self.stats: dict[str, int] = {
            "recorded": 0,
            "batches": 0,
            "failed": 0,
            "skipped": 0,
            "dropped": 0,
            "new": 0,
            "reopened": 0,
        }
        self._pending: list[tuple[tuple[Any, ...], Mapping[str, Any]]] = []
        self._writing = False
        self._lock = threading.Lock()
        self._skip_until = 0.0
        self._warned_at = -WARN_INTERVAL_SECONDS

    def record(
        self, fingerprint: str, data: Mapping[str, Any], *, sample: bytes, request_id: str | None
    ) -> None:
        """Queue one event and write the queue unless another request is writing it."""
        if time.monotonic() < self._skip_until:
            self.stats["skipped"] += 1
            return
        args = self.index.record_args(fingerprint, data, sample=sample, request_id=request_id)
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self.stats["dropped"] += 1
                return
            self._pending.append((args, data))
            if self._writing:
                return
            self._writing = True
        self._drain(MAX_ROUNDS)

    def _drain(self, rounds: int | None) -> None:
        """Write batches until the queue is empty (or ``rounds`` batches were written, when
        a thread takes over so that this request can answer)."""
        written = 0
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._writing = False
                    return
            self._write(batch)
            written += 1
            if rounds is not None and written >= rounds:
                threading.Thread(target=self._drain, args=(None,), daemon=True).start()
                return

    def _write(self, batch: list[tuple[tuple[Any, ...], Mapping[str, Any]]]) -> None:
        now = time.monotonic()
        if now < self._skip_until:
            self.stats["skipped"] += len(batch)
            return
        try:
            results = self.index.record_many([args for args, _ in batch])
        except IndexUnavailable as exc:
            self.stats["failed"] += len(batch)
            self._skip_until = now + RETRY_SECONDS
            if now - self._warned_at >= WARN_INTERVAL_SECONDS:
                self._warned_at = now
                log.warning(
                    "error index unavailable, client errors are logged but not indexed",
                    extra={"data": {"error": str(exc)[:300], "events": len(batch)}},
                )
            return
        self.stats["recorded"] += len(batch)
        self.stats["batches"] += 1
        for (args, data), recorded in zip(batch, results, strict=True):
            if recorded.new or recorded.reopened:
                self._announce(str(args[0]), data, recorded)

    def _announce(self, fingerprint: str, data: Mapping[str, Any], recorded: Recorded) -> None:
        """A new group, or a resolved one back in a newer release: counted for the
        ``NewErrorGroup`` alarm (a reopened group alarms like a new one) and logged."""
        from .. import metrics

        self.stats["new" if recorded.new else "reopened"] += 1
        release = data.get("release")
        metrics.new_error_group(
            _text(data.get("kind"), 40) or "other", release if isinstance(release, str) else None
        )
        log.info(
            "new error group" if recorded.new else "error group reopened",
            extra={
                "data": {
                    "fingerprint": fingerprint,
                    "kind": _text(data.get("kind"), 40),
                    "release": data.get("release"),
                    "type": _text(data.get("type"), 200),
                    "message": _text(data.get("message"), 200),
                }
            },
        )


_TRAFFIC: TrafficCounter | None = None


def count_access_records(counter: TrafficCounter) -> None:
    """Make ``counter`` this process's traffic counter, fed by :func:`count_request` (the last
    app built wins, as there is one app per worker)."""
    global _TRAFFIC  # noqa: PLW0603 - one counter per worker process
    _TRAFFIC = counter


def count_request(status: int) -> None:
    """Count one answered request (called by the access path, whatever the log level)."""
    counter = _TRAFFIC
    if counter is not None:
        counter.count(status)
