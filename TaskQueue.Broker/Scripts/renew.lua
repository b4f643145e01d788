-- renew: extends the leases a worker still holds; a stale token is refused and changes nothing.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- ARGV[1]  time shift in ms
-- ARGV[2]  lease duration in ms
-- ARGV[3..] 2 values per task: id, lease token
-- Returns  {deadline_ms, code per task}: OK, CANCEL_REQUESTED (renewed; its owner should stop it),
--          STALE or MISSING (lib/common.lua)
--!include lib/common.lua
local now = now_ms(ARGV[1])
local deadline = now + tonumber(ARGV[2])
local out = { deadline }
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local key = task_key(id)
  local code = check_lease(id, key, ARGV[i + 1], now)
  if code == OK then
    redis.call('ZADD', LEASES, 'XX', deadline, id)
    if redis.call('HGET', key, 'cancel') == '1' then code = CANCEL_REQUESTED end
  end
  out[#out + 1] = code
end
return out
