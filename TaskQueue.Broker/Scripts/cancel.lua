-- cancel: a ready or scheduled task is cancelled at once; a leased one is marked cancel-requested so
-- its owner can be told (it ends cancelled when the owner reports or its lease expires).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2]  retention in ms
-- ARGV[3]  task id
-- Returns  {code, worker}: CANCELLED (now or before), CANCEL_REQUESTED (worker = the lease holder),
--          ALREADY_FINISHED (completed, dead or expired: nothing changed) or MISSING (lib/common.lua)
--!include lib/common.lua
local now = now_ms(ARGV[1])
local id = ARGV[3]
local key = task_key(id)
local t = redis.call('HMGET', key, 'state', 'worker')
local state = t[1]
if not state then return { MISSING, '' } end
if state == 'ready' then
  drop_stream_entry(key)
elseif state == 'scheduled' then
  redis.call('ZREM', SCHEDULED, id)
elseif state == 'leased' then
  redis.call('HSET', key, 'cancel', '1')
  return { CANCEL_REQUESTED, t[2] }
elseif state == 'cancelled' then
  return { CANCELLED, '' }
else
  return { ALREADY_FINISHED, '' }
end
finish(id, key, 'cancelled', now, ARGV[2], 'cancelled')
return { CANCELLED, '' }
