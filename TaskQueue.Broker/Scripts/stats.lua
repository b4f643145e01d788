-- stats: one consistent read of a queue's depth and counters (writes nothing).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- Returns  {ready, leased, scheduled, dead, counter name, counter value, ...}
--!include lib/common.lua
local in_streams = 0
for _, set in ipairs({ LEVELS, GROUP_LANES }) do
  for _, lane in ipairs(redis.call('SMEMBERS', set)) do
    in_streams = in_streams + redis.call('XLEN', ready_key(lane))
  end
end
local leased = redis.call('ZCARD', LEASES)
local out = { in_streams - leased, leased, redis.call('ZCARD', SCHEDULED), redis.call('ZCARD', DEAD) }
local counters = redis.call('HGETALL', STATS)
for _, v in ipairs(counters) do out[#out + 1] = v end
return out
