"""Lua sources run atomically inside Redis (one script = one check-and-change).

Time comes from Redis (``TIME``), so every instance shares one clock. Rate-limit keys are a
sorted set of bucket numbers (score = bucket) plus a hash with ``n<bucket>`` / ``c<bucket>``
counts and the running totals ``N`` / ``C``; the rules are those of
:mod:`chatgpt_api.limits.window`. Leases (stream slots, lock waiters) are sorted-set members
scored by their expiry in milliseconds; account locks are ``SET NX PX`` keys holding a token.
"""

from __future__ import annotations

_WINDOW_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local width = tonumber(ARGV[1])
local nb = tonumber(ARGV[2])
local cur = math.floor(now / width)
local ttl = math.ceil((nb + 2) * width / 1000)

local function count(prefix, b)
  return tonumber(redis.call('HGET', KEYS[2], prefix .. b) or '0')
end

local function prune()
  local last_gone = cur - nb - 1
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', last_gone)
  if #old == 0 then return end
  local dn, dc = 0, 0
  for _, b in ipairs(old) do
    dn = dn + count('n', b)
    dc = dc + count('c', b)
    redis.call('HDEL', KEYS[2], 'n' .. b, 'c' .. b)
  end
  redis.call('HINCRBY', KEYS[2], 'N', -dn)
  redis.call('HINCRBY', KEYS[2], 'C', -dc)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', last_gone)
end

local function add(b, n, c)
  redis.call('ZADD', KEYS[1], tonumber(b), b)
  redis.call('HINCRBY', KEYS[2], 'n' .. b, n)
  redis.call('HINCRBY', KEYS[2], 'c' .. b, c)
  redis.call('HINCRBY', KEYS[2], 'N', n)
  redis.call('HINCRBY', KEYS[2], 'C', c)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end

prune()
"""

#: KEYS: buckets, counts. ARGV: width_us, buckets, rpm (-1 none), cpm (-1 none), chars.
#: Returns {allowed, limit, retry_after_us, bucket, oversized}.
ACQUIRE = (
    _WINDOW_PRELUDE
    + """
local rpm = tonumber(ARGV[3])
local cpm = tonumber(ARGV[4])
local chars = tonumber(ARGV[5])
if cpm >= 0 and chars > cpm then return {0, 'chars', nb * width, '', 1} end

local function time_to_free(prefix, needed)
  local freed = 0
  for _, b in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    freed = freed + count(prefix, b)
    if freed >= needed then return (tonumber(b) + 1 + nb) * width - now end
  end
  return nb * width
end

local total_n = tonumber(redis.call('HGET', KEYS[2], 'N') or '0')
local total_c = tonumber(redis.call('HGET', KEYS[2], 'C') or '0')
local wait, hit = -1, ''
if rpm >= 0 and total_n + 1 > rpm then
  wait, hit = time_to_free('n', total_n + 1 - rpm), 'requests'
end
if cpm >= 0 and total_c + chars > cpm then
  local w = time_to_free('c', total_c + chars - cpm)
  if w > wait then wait, hit = w, 'chars' end
end
if hit ~= '' then return {0, hit, math.ceil(wait), '', 0} end
local b = string.format('%.0f', cur)
add(b, 1, chars)
return {1, '', 0, b, 0}
"""
)

#: KEYS: buckets, counts. ARGV: width_us, buckets, bucket, d_requests, d_chars.
ADJUST = (
    _WINDOW_PRELUDE
    + """
local b = ARGV[3]
local dn = tonumber(ARGV[4])
local dc = tonumber(ARGV[5])
if redis.call('ZSCORE', KEYS[1], b) then
  local n, c = count('n', b), count('c', b)
  local nn, nc = math.max(0, n + dn), math.max(0, c + dc)
  redis.call('HSET', KEYS[2], 'n' .. b, nn, 'c' .. b, nc)
  redis.call('HINCRBY', KEYS[2], 'N', nn - n)
  redis.call('HINCRBY', KEYS[2], 'C', nc - c)
elseif dc > 0 then
  add(string.format('%.0f', cur), 0, dc)
end
return 1
"""
)

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

#: KEYS: leases. ARGV: token, max, ttl_ms. Returns 1 (leased) or 0 (full).
SLOT_ACQUIRE = (
    _NOW_MS
    + """
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""
)

#: KEYS: leases. ARGV: token, ttl_ms. Returns 1 (renewed) or 0 (the lease is gone).
SLOT_RENEW = (
    _NOW_MS
    + """
local ttl = tonumber(ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""
)

#: KEYS: lock, waiters. ARGV: token, ttl_ms, max_queue, wait_ms.
#: Returns 1 (held), 0 (queued) or -1 (queue full).
LOCK_ENTER = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return -1 end
local wait = tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], now + wait, ARGV[1])
if redis.call('PTTL', KEYS[2]) < wait then redis.call('PEXPIRE', KEYS[2], wait) end
return 0
"""
)

#: KEYS: lock, waiters. ARGV: token, ttl_ms. Returns 1 (now held) or 0.
LOCK_POLL = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

#: KEYS: lock. ARGV: token, ttl_ms. Returns 1 if the caller still holds the lock.
LOCK_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

#: KEYS: lock. ARGV: token. Deletes the lock only for its holder.
LOCK_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

#: KEYS: lock, waiters. Returns holders + live waiters.
LOCK_BUSY = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return redis.call('EXISTS', KEYS[1]) + redis.call('ZCARD', KEYS[2])
"""
)
