-- fail: ends failed attempts. Retryable failures go to the scheduled set with exponential backoff and
-- jitter until max attempts; then, or when not retryable, the task is dead-lettered. The error is kept.
-- A task whose cancellation was requested ends cancelled instead.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- ARGV[1]  time shift in ms
-- ARGV[2..6] policy: retention ms, dead-letter max count, dead-letter max age ms,
--          backoff schedule "ms,ms,...", jitter fraction (0..1)
-- ARGV[7..] 5 values per task: id, lease token, error, retryable (1|0), unit random (0..1)
-- Returns  one code per task: RETRYING, DEAD_LETTERED, CANCELLED, STALE (rejected, nothing changed)
--          or MISSING (codes in lib/common.lua)
--!include lib/common.lua
--!include lib/settle.lua
local now = now_ms(ARGV[1])
local policy = read_policy(2)
local out = {}
for i = 7, #ARGV, 5 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = task_key(id)
  local code = check_lease(id, key, token, now)
  if code == OK then
    code = settle_failure(id, key, now, ARGV[i + 2], ARGV[i + 3] == '1', tonumber(ARGV[i + 4]), policy)
  end
  if code == STALE then redis.call('HINCRBY', STATS, 'stale', 1) end
  out[#out + 1] = code
end
return out
