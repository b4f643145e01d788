-- shorten: a worker's connection broke; its leases end after a short grace instead of the full lease,
-- so its tasks are retried within seconds unless it reconnects and renews them first.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2]  grace in ms
-- ARGV[3..] 2 values per task: id, lease token
-- Returns  the number of leases shortened (the queue is marked due at the new deadline when any was)
--!include lib/common.lua
local now = now_ms(ARGV[1])
local deadline = now + tonumber(ARGV[2])
local shortened = 0
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if check_lease(id, task_key(id), ARGV[i + 1], now) == OK then
    -- CH: count only leases whose deadline moved (one already ending sooner is left alone).
    shortened = shortened + redis.call('ZADD', LEASES, 'XX', 'LT', 'CH', deadline, id)
  end
end
if shortened > 0 then mark_due(deadline) end
return shortened
