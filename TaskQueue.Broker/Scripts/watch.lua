-- watch: counts the open Watch calls on a task (any broker's), so the scripts publish its changes on
-- 'tq:changed' only while someone watches. The entry goes when the count reaches zero, or when the task
-- reaches a final state (lib/common.lua's notify_changed): a broker that died mid-watch leaks nothing past that.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  task id
-- ARGV[2]  1 (a watch begins) or -1 (it ended)
-- Returns  the open watches after the change
--!include lib/common.lua
local id = ARGV[1]
if tonumber(ARGV[2]) > 0 then
  return redis.call('HINCRBY', WATCHERS, id, 1)
end
if redis.call('HEXISTS', WATCHERS, id) == 0 then return 0 end
local left = redis.call('HINCRBY', WATCHERS, id, -1)
if left <= 0 then redis.call('HDEL', WATCHERS, id) end
return math.max(left, 0)
