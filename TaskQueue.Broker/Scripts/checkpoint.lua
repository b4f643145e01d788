-- checkpoint: stores a lease holder's checkpoint (a small state blob the next attempt receives), and with it
-- its progress when given; fenced: a stale token changes nothing, so a zombie never overwrites the
-- checkpoint of the attempt that replaced it. The size cap is checked by the broker before the call.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2]  task id
-- ARGV[3]  lease token
-- ARGV[4]  the checkpoint
-- ARGV[5]  percent (0..100), or -1 to leave the progress as it is
-- ARGV[6]  message (with a percent)
-- Returns  OK, STALE (nothing changed) or MISSING (lib/common.lua)
--!include lib/common.lua
local now = now_ms(ARGV[1])
local id = ARGV[2]
local key = task_key(id)
local code = check_lease(id, key, ARGV[3], now)
if code ~= OK then return code end
local percent = tonumber(ARGV[5])
if percent >= 0 then
  redis.call('HSET', key, 'checkpoint', ARGV[4], 'progress', percent, 'pmsg', ARGV[6],
    'pat', string.format('%d', now))
  notify_changed(id, false)
else
  redis.call('HSET', key, 'checkpoint', ARGV[4])
end
return OK
