-- complete: records the results of tasks whose leases are still valid, releases the leases and deletes
-- the stream entries; a finished task expires after the retention period.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- ARGV[1]  time shift in ms
-- ARGV[2]  retention in ms (0 = delete at once)
-- ARGV[3..] 3 values per task: id, lease token, result
-- Returns  one code per task: OK, STALE (rejected, nothing changed) or MISSING (lib/common.lua)
--!include lib/common.lua
local now = now_ms(ARGV[1])
local retention_ms = ARGV[2]
local out = {}
for i = 3, #ARGV, 3 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = task_key(id)
  local code = check_lease(id, key, token, now)
  if code == OK then
    redis.call('ZREM', LEASES, id)
    drop_stream_entry(key)
    redis.call('HSET', key, 'result', ARGV[i + 2], 'token', '')
    finish(id, key, 'completed', now, retention_ms, 'completed')
  end
  if code == STALE then redis.call('HINCRBY', STATS, 'stale', 1) end
  out[#out + 1] = code
end
return out
