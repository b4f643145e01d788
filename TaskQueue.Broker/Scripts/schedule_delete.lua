-- schedule_delete: deletes a schedule (the tasks it created stay, each with its own lifecycle).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  schedule name
-- Returns  OK (deleted) or MISSING (no such schedule)
--!include lib/common.lua
--!include lib/task.lua
--!include lib/schedule.lua
if redis.call('DEL', schedule_key(ARGV[1])) == 0 then return MISSING end
redis.call('ZREM', SCHEDULES, ARGV[1])
reindex_schedules()
return OK
