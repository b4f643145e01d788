-- fail: ends failed attempts. Retryable failures go to the scheduled set with exponential backoff and
-- jitter (straight back to ready when the backoff is zero) until max attempts; then, or when not
-- retryable, the task is dead-lettered. The error is kept. A task whose cancellation was requested ends
-- cancelled instead.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2..6] policy: retention ms, dead-letter max count, dead-letter max age ms,
--          backoff schedule "ms,ms,...", jitter fraction (0..1)
-- ARGV[7..] 5 values per task: id, lease token, error, retryable (1|0), unit random (0..1)
-- Returns  one code per task: RETRYING, DEAD_LETTERED, CANCELLED, STALE (rejected, nothing changed)
--          or MISSING (codes in lib/common.lua)
--!include lib/common.lua
--!include lib/flow.lua
--!include lib/settle.lua
-- One read per task plus one ZMSCORE for the whole call, as in complete.lua; shared writes are batched.
local now = now_ms(ARGV[1])
local policy = read_policy(2)
local ids = {}
for i = 7, #ARGV, 5 do ids[#ids + 1] = ARGV[i] end
local deadlines = lease_deadlines(ids)
local batch = new_failure_batch()
local out = {}
local stale = 0
for n = 1, #ids do
  local i = 7 + (n - 1) * 5
  local id, token = ids[n], ARGV[i + 1]
  local key = task_key(id)
  local t = redis.call('HMGET', key, 'state', 'token', unpack(FAILURE_FIELDS))
  local code
  if not t[1] then
    code = MISSING
  elseif t[1] ~= 'leased' or t[2] ~= token or not deadlines[n] or tonumber(deadlines[n]) < now then
    code = STALE
    stale = stale + 1
  else
    code = settle_failure(batch, id, key, t, 3, now, ARGV[i + 2], ARGV[i + 3] == '1', tonumber(ARGV[i + 4]), policy)
  end
  out[#out + 1] = code
end
flush_failures(batch)
if stale > 0 then redis.call('HINCRBY', STATS, 'stale', stale) end
return out
