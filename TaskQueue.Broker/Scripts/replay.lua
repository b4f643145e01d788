-- replay: moves dead letters back to ready with their attempts reset (the last error is kept).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- ARGV[1]  time shift in ms
-- ARGV[2]  maximum number to replay when no ids are given
-- ARGV[3..] task ids; none = the oldest dead letters, up to the maximum
-- Returns  the number replayed (ids that are not dead letters are skipped)
--!include lib/common.lua
local now = now_ms(ARGV[1])
local ids = {}
if #ARGV >= 3 then
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  ids = redis.call('ZRANGE', DEAD, 0, tonumber(ARGV[2]) - 1)
end
local replayed = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', DEAD, id) == 1 then
    local key = task_key(id)
    redis.call('HSET', key, 'attempt', 0, 'cancel', '0', 'finished', '', 'due', now)
    local t = redis.call('HMGET', key, 'prio', 'type')
    push_ready(id, key, t[1], t[2], now)
    notify_changed(id, false)
    replayed = replayed + 1
  end
end
if replayed > 0 then redis.call('HINCRBY', STATS, 'replayed', replayed) end
return replayed
