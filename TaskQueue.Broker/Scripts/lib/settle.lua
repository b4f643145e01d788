-- Ends one failed attempt of a leased task (a worker's failure report or an expired lease).
-- Needs lib/common.lua. `policy` = { retention_ms, dead_max, dead_age_ms, schedule = {ms, ...}, jitter }.
-- Returns RETRYING, DEAD_LETTERED or CANCELLED.
local function settle_failure(id, key, now, err, retryable, unit_random, policy)
  local t = redis.call('HMGET', key, 'attempt', 'max', 'cancel')
  local attempt = tonumber(t[1]) or 0
  local max = tonumber(t[2]) or 1
  redis.call('ZREM', LEASES, id)
  drop_stream_entry(key)
  redis.call('HSET', key, 'error', err, 'token', '', 'worker', '')
  redis.call('HINCRBY', STATS, 'failed', 1)
  if t[3] == '1' then
    finish(id, key, 'cancelled', now, policy.retention_ms, 'cancelled')
    return CANCELLED
  end
  if retryable and attempt < max then
    local schedule = policy.schedule
    local delay = schedule[math.min(math.max(attempt, 1), #schedule)]
    delay = math.floor(delay * (1 - policy.jitter * unit_random))
    redis.call('HSET', key, 'state', 'scheduled', 'due', now + delay)
    redis.call('ZADD', SCHEDULED, now + delay, id)
    redis.call('HINCRBY', STATS, 'retried', 1)
    return RETRYING
  end
  redis.call('HSET', key, 'state', 'dead', 'finished', now)
  redis.call('ZADD', DEAD, now, id)
  redis.call('HINCRBY', STATS, 'dead', 1)
  notify_finished(id)
  trim_dead(now, policy.dead_max, policy.dead_age_ms)
  return DEAD_LETTERED
end
