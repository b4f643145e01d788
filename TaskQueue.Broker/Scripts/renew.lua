-- renew: extends the leases a worker still holds; a stale token is refused and changes nothing. An attempt
-- that has run past its execution timeout plus the grace is not renewed: it ends as a failed attempt, retried
-- or dead-lettered as in fail.lua, with the error "execution timed out after ... (the handler did not stop)",
-- and its holder hears TIMED_OUT (a late report of it is then stale). So a handler that ignores its
-- cancellation cannot keep its lease by heartbeats.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2]  lease duration in ms
-- ARGV[3]  execution-timeout grace in ms
-- ARGV[4..8] policy, as in fail.lua
-- ARGV[9]  unit random (0..1) seeding the jitter of the attempts that timed out
-- ARGV[10..] 2 values per task: id, lease token
-- Returns  {deadline_ms, code per task}: OK, CANCEL_REQUESTED (renewed; its owner should stop it),
--          TIMED_OUT (not renewed: the attempt failed), STALE or MISSING (lib/common.lua)
--!include lib/common.lua
--!include lib/flow.lua
--!include lib/settle.lua
-- One read per task (the timeout fields come with the lease check's), as before the timeout existed;
-- the failure path's writes happen only for an attempt that timed out.
local GOLDEN = 0.6180339887498949
local now = now_ms(ARGV[1])
local deadline = now + tonumber(ARGV[2])
local grace = tonumber(ARGV[3])
local policy = read_policy(4)
local random = tonumber(ARGV[9])
local batch = new_failure_batch()
local out = { deadline }
for i = 10, #ARGV, 2 do
  local id = ARGV[i]
  local key = task_key(id)
  local t = redis.call('HMGET', key, 'state', 'token', 'timeout', 'started', unpack(FAILURE_FIELDS))
  local code = OK
  if not t[1] then
    code = MISSING
  elseif t[1] ~= 'leased' or t[2] ~= ARGV[i + 1] then
    code = STALE
  else
    local current = redis.call('ZSCORE', LEASES, id)
    if not current or tonumber(current) < now then code = STALE end
  end
  if code == OK then
    local timeout = tonumber(t[3]) or 0
    if timeout > 0 and now > (tonumber(t[4]) or now) + timeout + grace then
      local err = string.format('execution timed out after %s s (the handler did not stop)', tostring(timeout / 1000))
      local unit = (random + i * GOLDEN) % 1
      settle_failure(batch, id, key, t, 5, now, err, true, unit, policy)
      code = TIMED_OUT
    else
      redis.call('ZADD', LEASES, 'XX', deadline, id)
      if t[7] == '1' then code = CANCEL_REQUESTED end
    end
  end
  out[#out + 1] = code
end
flush_failures(batch)
return out
