"""The five decision rules as Redis Lua scripts: one atomic ``EVALSHA`` a decision (codex 9.3).

Each script is :mod:`archlab.resilience.algorithms` written again in Lua, statement for
statement, so the two backends agree to the bit. Redis runs a script to completion before any
other command, so a read, the rule and the write cannot interleave with another client's:
that is what makes the limiter atomic across processes and machines. The time is read inside
the script with ``TIME`` (the Redis server's clock, the same for every client), unless a test
passes one in. Numbers are stored and returned with ``%.17g``, which round-trips a double.

Arguments: ``ARGV = rate, period, burst, cost, expiry in ms, now ('' for the server's TIME)``.
Reply: ``allowed (0/1), limit, remaining, retry_after, reset_after``.
"""

from __future__ import annotations

_PRELUDE = """
local rate = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local expiry = ARGV[5]
local now
if ARGV[6] ~= '' then
  now = tonumber(ARGV[6])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.17g', x) end
"""

TOKEN_BUCKET = (
    _PRELUDE
    + """
local capacity = burst
local per_second = rate / period
local s = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens
if s[1] == false then
  tokens = capacity
else
  tokens = math.min(capacity, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * per_second)
end
local allowed = cost <= tokens
if allowed then tokens = tokens - cost end
local retry
if allowed then retry = 0 elseif cost > capacity then retry = -1
else retry = (cost - tokens) / per_second end
local reset = (capacity - tokens) / per_second
redis.call('HSET', KEYS[1], 'tokens', fmt(tokens), 'last', fmt(now))
redis.call('PEXPIRE', KEYS[1], expiry)
return {allowed and 1 or 0, burst, math.floor(tokens), fmt(retry), fmt(reset)}
"""
)

GCRA = (
    _PRELUDE
    + """
local interval = period / rate
local tolerance = interval * burst
local increment = interval * cost
local stored = redis.call('GET', KEYS[1])
local tat
if stored == false then tat = now else tat = math.max(tonumber(stored), now) end
local new_tat = tat + increment
local allow_at = new_tat - tolerance
local diff = now - allow_at
local allowed, retry, ttl, keep
if diff < 0 then
  if increment <= tolerance then retry = -diff else retry = -1 end
  ttl = tat - now
  keep = tat
  allowed = false
else
  retry = 0
  ttl = new_tat - now
  keep = new_tat
  allowed = true
end
local left = tolerance - ttl
local remaining = 0
if left > -interval then remaining = math.floor(left / interval) end
if remaining < 0 then remaining = 0 end
redis.call('SET', KEYS[1], fmt(keep), 'PX', expiry)
return {allowed and 1 or 0, burst, remaining, fmt(retry), fmt(ttl)}
"""
)

FIXED_WINDOW = (
    _PRELUDE
    + """
local start = math.floor(now / period) * period
local s = redis.call('HMGET', KEYS[1], 'start', 'count')
local count = 0
if s[1] ~= false and tonumber(s[1]) == start then count = tonumber(s[2]) end
local allowed = count + cost <= rate
if allowed then count = count + cost end
local ends_in = start + period - now
local retry
if allowed then retry = 0 elseif cost > rate then retry = -1 else retry = ends_in end
redis.call('HSET', KEYS[1], 'start', fmt(start), 'count', fmt(count))
redis.call('PEXPIRE', KEYS[1], expiry)
return {allowed and 1 or 0, rate, rate - count, fmt(retry), fmt(ends_in)}
"""
)

SLIDING_LOG = (
    _PRELUDE
    + """
local horizon = now - period
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(horizon))
local count = redis.call('ZCARD', KEYS[1])
local allowed = count + cost <= rate
if allowed then
  for i = 1, cost do
    local seq = redis.call('INCR', KEYS[2])
    redis.call('ZADD', KEYS[1], fmt(now), fmt(now) .. ':' .. seq)
  end
  count = count + cost
end
local retry
if allowed then retry = 0 elseif cost > rate then retry = -1
else
  local oldest = redis.call('ZRANGE', KEYS[1], count + cost - rate - 1, count + cost - rate - 1,
    'WITHSCORES')
  retry = tonumber(oldest[2]) + period - now
end
local reset = 0
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] then reset = tonumber(newest[2]) + period - now end
redis.call('PEXPIRE', KEYS[1], expiry)
redis.call('PEXPIRE', KEYS[2], expiry)
return {allowed and 1 or 0, rate, rate - count, fmt(retry), fmt(reset)}
"""
)

SLIDING_COUNTER = (
    _PRELUDE
    + """
local start = math.floor(now / period) * period
local s = redis.call('HMGET', KEYS[1], 'start', 'current', 'previous')
local current, previous
if s[1] == false or tonumber(s[1]) < start - period then
  current = 0
  previous = 0
elseif tonumber(s[1]) == start then
  current = tonumber(s[2])
  previous = tonumber(s[3])
else
  current = 0
  previous = tonumber(s[2])
end
local weight = 1.0 - (now - start) / period
local estimate = previous * weight + current
local allowed = estimate + cost <= rate
if allowed then
  current = current + cost
  estimate = estimate + cost
end
local room = rate - cost - current
local retry
if allowed then retry = 0 elseif cost > rate then retry = -1
elseif room >= 0 and previous > 0 then retry = start + period * (1.0 - room / previous) - now
else retry = start + period - now end
local reset
if current > 0 then reset = start + 2 * period - now else reset = start + period - now end
local remaining = math.floor(rate - estimate)
if remaining < 0 then remaining = 0 end
redis.call('HSET', KEYS[1], 'start', fmt(start), 'current', fmt(current), 'previous',
  fmt(previous))
redis.call('PEXPIRE', KEYS[1], expiry)
return {allowed and 1 or 0, rate, remaining, fmt(retry), fmt(reset)}
"""
)

#: Federation (:func:`archlab.resilience.algorithms.lease`): ARGV[4] is the tokens wanted and
#: ARGV[7] the tokens given back; replies ``granted, retry_after``.
LEASE = (
    _PRELUDE
    + """
local give_back = tonumber(ARGV[7])
local capacity = burst
local per_second = rate / period
local s = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens
if s[1] == false then
  tokens = capacity
else
  tokens = math.min(capacity, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * per_second)
end
tokens = math.min(capacity, tokens + give_back)
local granted = math.min(cost, math.floor(tokens))
tokens = tokens - granted
local retry = 0
if granted < cost then retry = (cost - tokens) / per_second end
redis.call('HSET', KEYS[1], 'tokens', fmt(tokens), 'last', fmt(now))
redis.call('PEXPIRE', KEYS[1], expiry)
return {granted, fmt(retry)}
"""
)

#: Stripe's concurrent-requests limiter on Redis: KEYS[1] is the user's sorted set of in-flight
#: request ids scored by start time; ARGV = limit, stale_after (s), request id, now ('' for
#: TIME). Entries older than stale_after (a server that crashed mid-request) are dropped first.
#: Replies ``1`` (admitted and recorded) or ``0``.
CONCURRENCY_ACQUIRE = """
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local stale_after = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.17g', now - stale_after))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], string.format('%.17g', now), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.floor(stale_after * 2000))
return 1
"""

SCRIPTS: dict[str, str] = {
    "token_bucket": TOKEN_BUCKET,
    "gcra": GCRA,
    "fixed_window": FIXED_WINDOW,
    "sliding_log": SLIDING_LOG,
    "sliding_counter": SLIDING_COUNTER,
}
