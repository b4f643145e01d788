-- setflow: changes a queue's flow settings (lib/flow.lua's FLOW and FLOW_GROUPS) and wakes every broker's
-- dispatchers (a publish of the queue on READY_CHANNEL) when the change may let held work through: a resume, new
-- limits, a group's overrides set or cleared. Clearing the queue's rate drops its token bucket.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  'pause' | 'resume' | 'limits' | 'group' | 'ungroup'
-- ARGV[2..] for 'limits': concurrency, rate, burst, group_concurrency, group_rate, group_burst ('' clears one);
--          for 'group': the group, its overrides "<concurrency> <rate> <burst>", the most overrides a queue holds;
--          for 'ungroup': the group
-- Returns  for 'pause' and 'resume' 1 when the queue's state changed, 0 when it was so already; for 'limits' 1;
--          for 'group' 1 (added), 0 (replaced) or -1 (refused: the queue holds the most overrides already);
--          for 'ungroup' 1 (cleared) or 0 (the group had none)
--!include lib/common.lua
--!include lib/flow.lua
local op = ARGV[1]
if op == 'pause' then
  return redis.call('HSET', FLOW, 'paused', '1') == 1 and 1 or 0
elseif op == 'resume' then
  local changed = redis.call('HDEL', FLOW, 'paused')
  redis.call('PUBLISH', READY_CHANNEL, QUEUE)
  return changed
elseif op == 'limits' then
  local fields = { 'concurrency', 'rate', 'burst', 'group_concurrency', 'group_rate', 'group_burst' }
  for i, field in ipairs(fields) do
    local value = ARGV[i + 1]
    if value == '' then redis.call('HDEL', FLOW, field) else redis.call('HSET', FLOW, field, value) end
  end
  if ARGV[3] == '' then redis.call('DEL', FLOW_BUCKET) end
  redis.call('PUBLISH', READY_CHANNEL, QUEUE)
  return 1
elseif op == 'group' then
  local group = ARGV[2]
  if redis.call('HEXISTS', FLOW_GROUPS, group) == 0 and redis.call('HLEN', FLOW_GROUPS) >= tonumber(ARGV[4]) then
    return -1
  end
  local added = redis.call('HSET', FLOW_GROUPS, group, ARGV[3])
  redis.call('PUBLISH', READY_CHANNEL, QUEUE)
  return added
elseif op == 'ungroup' then
  local cleared = redis.call('HDEL', FLOW_GROUPS, ARGV[2])
  if cleared == 1 then redis.call('PUBLISH', READY_CHANNEL, QUEUE) end
  return cleared
end
return redis.error_reply('setflow: unknown operation ' .. tostring(op))
