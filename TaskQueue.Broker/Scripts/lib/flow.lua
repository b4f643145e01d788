-- Flow control's shared words (spliced in after lib/common.lua where a script says `--!include lib/flow.lua`).
-- A queue's flow settings live in FLOW, a hash in the queue's slot (absent fields: no limit):
--   paused             '1' while the queue is paused (claims lease nothing; submits are still stored)
--   concurrency        the most tasks of the queue leased at once, across every worker and broker
--   rate, burst        the queue's token bucket: tasks started per second, and the most tokens it holds
--   group_concurrency  the default most tasks of one group leased at once
--   group_rate, group_burst  the default token bucket of each group
--   held               '1' while a claim waits for a lease to end (hold_until_released): the next script that
--                      ends a lease clears it and publishes the queue on READY_CHANNEL (wake_held)
-- FLOW_GROUPS, a hash: group -> its overrides, "<concurrency> <rate> <burst>", '-' where the default applies.
-- FLOW_BUCKET, a hash: the queue's token bucket as last spent (tokens, at = Redis ms); absent = full. It expires
-- once it would be full again, so an idle queue keeps nothing.
-- Storage/RedisKeys.cs names the same keys and fields.
local FLOW = base .. 'flow'
local FLOW_GROUPS = base .. 'flow:groups'
local FLOW_BUCKET = base .. 'flow:bucket'

-- What a claim tells its dispatcher about work it held back (claim.lua's third reply value):
-- 0 nothing held back; > 0 ms until a rate limit may admit more (the dispatcher claims again then);
-- -1 held until a lease of the queue ends or the queue resumes (a publish on READY_CHANNEL wakes every broker).
local held_ms = 0
-- Work was held back by a rate limit that admits more in `ms` (the earliest such time wins).
local function hold_for(ms)
  ms = math.max(1, math.ceil(ms))
  if held_ms <= 0 or ms < held_ms then held_ms = ms end
end
-- Work was held back until the queue resumes (resume publishes the queue; no lease end is waited for).
local function hold_until_resumed()
  if held_ms == 0 then held_ms = -1 end
end
-- Work was held back until a lease ends (a concurrency limit): the flag makes the next lease end publish.
local release_flagged = false
local function hold_until_released()
  hold_until_resumed()
  if not release_flagged then
    release_flagged = true
    redis.call('HSET', FLOW, 'held', '1')
  end
end
-- Called by a script that ended a lease (complete, fail, reap, release, renew's timeout): when a claim held work
-- back until a lease ends, clears the flag and wakes every broker's dispatchers. One HDEL when nothing waits.
local function wake_held()
  if redis.call('HDEL', FLOW, 'held') == 1 then redis.call('PUBLISH', READY_CHANNEL, QUEUE) end
end

-- A token bucket's tokens at `now` (ms): `tokens` as last spent at `at`, refilled at `rate` per second up to
-- `burst`; a bucket never spent (nil) is full.
local function bucket_tokens(tokens, at, rate, burst, now)
  if not tokens or not at then return burst end
  return math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
end

-- The queue's gates, read once per claim (admit_queue, then spend_queue with what was leased).
local gate = nil
-- How many of `wanted` tasks the queue admits now: none while paused (hold_until_resumed), at most the free
-- part of its concurrency limit (leases of the queue: ZCARD LEASES, expired ones not yet reaped included),
-- at most the whole tokens of its bucket. A queue without flow settings costs one HMGET.
local function admit_queue(now, wanted)
  local f = redis.call('HMGET', FLOW, 'paused', 'concurrency', 'rate', 'burst')
  if f[1] == '1' then
    hold_until_resumed()
    return 0
  end
  local concurrency, rate = tonumber(f[2]), tonumber(f[3])
  if not concurrency and not rate then return wanted end
  gate = { asked = wanted, free = math.huge, whole = math.huge }
  if concurrency then gate.free = math.max(0, concurrency - redis.call('ZCARD', LEASES)) end
  if rate and rate > 0 then
    local burst = tonumber(f[4]) or math.max(1, math.ceil(rate))
    local b = redis.call('HMGET', FLOW_BUCKET, 'tokens', 'at')
    gate.rate, gate.burst = rate, burst
    gate.tokens = bucket_tokens(tonumber(b[1]), tonumber(b[2]), rate, burst, now)
    gate.whole = math.floor(gate.tokens)
  end
  local admitted = math.min(wanted, gate.free, gate.whole)
  if admitted == 0 then
    if gate.free == 0 then hold_until_released() end
    if gate.whole == 0 then hold_for((1 - gate.tokens) * 1000 / gate.rate) end
  end
  return admitted
end
-- Spends the bucket's tokens for the `leased` tasks of this claim, and says what held back the rest: a claim
-- that leased all a gate let through, and less than it asked for, may have left ready work behind.
local function spend_queue(now, leased)
  if not gate then return end
  if gate.rate and leased > 0 then
    local left = gate.tokens - leased
    redis.call('HSET', FLOW_BUCKET, 'tokens', string.format('%.17g', left), 'at', string.format('%d', now))
    -- Full again after (burst - left) / rate seconds: then the key says nothing the absence does not.
    redis.call('PEXPIRE', FLOW_BUCKET, math.ceil((gate.burst - left) * 1000 / gate.rate) + 1000)
  end
  if leased < gate.asked then
    if leased >= gate.free then hold_until_released() end
    if gate.rate and leased >= gate.whole then hold_for((1 - (gate.tokens - leased)) * 1000 / gate.rate) end
  end
end
