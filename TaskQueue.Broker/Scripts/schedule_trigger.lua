-- schedule_trigger: creates a schedule's task now, outside its slots (an operator's "run now"): its own id, no
-- overlap check; it becomes the schedule's last run (the overlap policy of the next slots sees it).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms (0 outside tests)
-- ARGV[2]  schedule name
-- ARGV[3]  the new task's local id
-- Returns  {code}: OK, MISSING (no such schedule) or -2 (the registry does not hold the queue: the broker registers it
--          and calls again)
--!include lib/common.lua
--!include lib/task.lua
--!include lib/schedule.lua
local now = now_ms(ARGV[1])
local key = schedule_key(ARGV[2])
if redis.call('EXISTS', key) == 0 then return { MISSING } end
if redis.call('SISMEMBER', QUEUES, QUEUE) == 0 then return { UNREGISTERED } end
create_from_template(redis.call('HMGET', key, unpack(TEMPLATE_FIELDS)), ARGV[3], now, {})
redis.call('HSET', key, 'last_task', ARGV[3])
redis.call('HINCRBY', key, 'fired', 1)
return { OK }
