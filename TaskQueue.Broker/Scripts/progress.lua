-- progress: stores the progress lease holders reported (the latest of each task, coalesced by the broker),
-- fenced: a stale token changes nothing. A watched task's watchers are told.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2..] 4 values per task: id, lease token, percent (0..100), message
-- Returns  one code per task: OK, STALE (nothing changed) or MISSING (lib/common.lua)
--!include lib/common.lua
local now = now_ms(ARGV[1])
local now_text = string.format('%d', now)
local out = {}
for i = 2, #ARGV, 4 do
  local id = ARGV[i]
  local key = task_key(id)
  local code = check_lease(id, key, ARGV[i + 1], now)
  if code == OK then
    redis.call('HSET', key, 'progress', ARGV[i + 2], 'pmsg', ARGV[i + 3], 'pat', now_text)
    notify_changed(id, false)
  end
  out[#out + 1] = code
end
return out
