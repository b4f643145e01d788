-- reap: expired leases take the failure path with the error "lease expired". Atomic, so when several
-- brokers reap at once each expired lease is reclaimed exactly once. A lease runs out when its worker
-- crashed, hung or lost its connection (the disconnect grace ended): not the task's failure, so a task with
-- attempts left is ready again at once, ahead of newer work in its lane, without a backoff (settle_crash in
-- lib/settle.lua); the attempt still counts, so a task that keeps crashing workers is dead-lettered.
-- A visit of the due index (lib/due.lua): once the batch is not full, the queue's due time is set to its
-- next one, or an empty queue is forgotten.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2..6] policy, as in fail.lua
-- ARGV[7]  maximum number of leases to reap
-- ARGV[8]  unit random (0..1) seeding the jitter of this batch
-- ARGV[9]  idle expiry in ms (how long an empty queue is kept)
-- Returns  {id, worker, leased at (ms), outcome, type, attempt, max attempts, traceparent, tracestate, ...}:
--          outcome RETRYING, DEAD_LETTERED or CANCELLED (lib/common.lua); the rest is for telemetry
--!include lib/common.lua
--!include lib/flow.lua
--!include lib/settle.lua
--!include lib/due.lua
local GOLDEN = 0.6180339887498949
local now = now_ms(ARGV[1])
local policy = read_policy(2)
local expired = redis.call('ZRANGEBYSCORE', LEASES, '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[7]))
local random = tonumber(ARGV[8])
local batch = new_failure_batch()
local out = {}
for n, id in ipairs(expired) do
  local key = task_key(id)
  local lease = redis.call('HMGET', key, 'worker', 'started', 'type', 'tp', 'ts', unpack(FAILURE_FIELDS))
  local worker = lease[1]
  if not worker then
    redis.call('ZREM', LEASES, id) -- a lease whose task is gone: nothing to retry
  else
    local unit = (random + n * GOLDEN) % 1
    out[#out + 1] = id
    out[#out + 1] = worker
    out[#out + 1] = tonumber(lease[2]) or 0
    out[#out + 1] = settle_crash(batch, id, key, lease, 6, now, 'lease expired')
      or settle_failure(batch, id, key, lease, 6, now, 'lease expired', true, unit, policy)
    out[#out + 1] = lease[3] or ''
    out[#out + 1] = tonumber(lease[6]) or 0
    out[#out + 1] = tonumber(lease[7]) or 0
    out[#out + 1] = lease[4] or ''
    out[#out + 1] = lease[5] or ''
  end
end
flush_failures(batch)
if #expired > 0 then wake_held() end -- also for leases whose task was gone (flush_failures knows only the others)
if #expired < tonumber(ARGV[7]) then revisit(now, policy.dead_age_ms, ARGV[9]) end
return out
