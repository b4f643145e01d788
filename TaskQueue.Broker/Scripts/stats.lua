-- stats: one consistent read of a queue's depth and counters (writes nothing).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- Returns  {ready, leased, scheduled, dead, counter name, counter value, ...}
--!include lib/common.lua
-- Ready: the entries of the streams (lanes without a group, and the old layout's group streams) less the leases
-- that hold one, plus the tasks in group lanes. A task leased from a group lane holds no entry: the group lease
-- counts (GROUP_LEASED) are those leases. (Until the first claim moves the old layout's group streams, a task
-- leased from one holds an entry and is counted there too, so ready reads that many too high.)
local in_streams = 0
local lanes, streams = group_lanes()
for _, set in ipairs({ redis.call('SMEMBERS', LEVELS), streams }) do
  for _, lane in ipairs(set) do
    in_streams = in_streams + redis.call('XLEN', ready_key(lane))
  end
end
for _, lane in ipairs(lanes) do in_streams = in_streams + redis.call('ZCARD', group_ready_key(lane)) end
local leased = redis.call('ZCARD', LEASES)
local without_entry = 0
for _, n in ipairs(redis.call('HVALS', GROUP_LEASED)) do without_entry = without_entry + tonumber(n) end
local out = { in_streams - leased + without_entry, leased, redis.call('ZCARD', SCHEDULED), redis.call('ZCARD', DEAD) }
local counters = redis.call('HGETALL', STATS)
for _, v in ipairs(counters) do out[#out + 1] = v end
return out
