-- release: a worker hands tasks back unfinished (graceful drain). Not a failed attempt: the attempt
-- count is restored and the task is ready again at once (or cancelled, if that was requested). Ended leases
-- wake claims a concurrency limit held back (wake_held, lib/flow.lua).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2]  retention in ms
-- ARGV[3..] 2 values per task: id, lease token
-- Returns  one code per task: OK (ready again), CANCELLED, STALE or MISSING (lib/common.lua)
--!include lib/common.lua
--!include lib/flow.lua
local now = now_ms(ARGV[1])
local out = {}
local ended = false
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local key = task_key(id)
  local code = check_lease(id, key, ARGV[i + 1], now)
  if code == OK then
    redis.call('ZREM', LEASES, id)
    local entry = redis.call('HMGET', key, 'lane', 'sid')
    end_group_lease(entry[1], entry[2])
    ended = true
    drop_stream_entry(key)
    redis.call('HINCRBY', key, 'attempt', -1)
    redis.call('HSET', key, 'token', '', 'worker', '')
    if redis.call('HGET', key, 'cancel') == '1' then
      finish(id, key, 'cancelled', now, ARGV[2], 'cancelled')
      code = CANCELLED
    else
      local t = redis.call('HMGET', key, 'prio', 'type', 'group')
      push_ready(id, key, t[1], t[2], now, t[3])
      notify_changed(id, false)
    end
  end
  if code == STALE then redis.call('HINCRBY', STATS, 'stale', 1) end
  out[#out + 1] = code
end
if ended then wake_held() end
return out
