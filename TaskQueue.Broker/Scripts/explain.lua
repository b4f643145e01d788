-- explain: what Explain needs beyond the task's hash, in one read (writes nothing): how many tasks wait ahead
-- of a ready task in its lane's ready stream (the lane's reclaimed entries before its own, then its undelivered
-- entries before its own, as claim.lua takes them; counting stops past ARGV[2]) or in its group lane (its rank),
-- a leased task's lease deadline, and for a ready task with a group its group's limits as a claim would judge them now (lib/groups.lua).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  task id
-- ARGV[2]  the most tasks to count ahead
-- ARGV[3]  time shift in ms (0 outside tests)
-- Returns  {ahead, 1 when counting stopped at the bound (else 0), lease deadline ms (-1: none),
--          its group's leased count, its group's concurrency limit (-1: none), ms until its group's next token (0: has one)}
--!include lib/common.lua
--!include lib/flow.lua
--!include lib/groups.lua
local id = ARGV[1]
local bound = tonumber(ARGV[2])
local t = redis.call('HMGET', task_key(id), 'state', 'prio', 'sid', 'lane', 'group')
local ahead, stopped = 0, 0
local lane = t[2] and task_lane(t[4], t[2])
if t[1] == 'ready' and is_group_entry(t[3]) then
  -- A group lane: its rank is the number ahead (reclaimed tasks have the lowest scores, as a claim takes them).
  ahead = redis.call('ZRANK', group_ready_key(lane), id) or 0
  if ahead > bound then
    ahead, stopped = bound, 1
  end
elseif t[1] == 'ready' and t[3] and t[3] ~= '' and (redis.call('SISMEMBER', LEVELS, lane) == 1 or redis.call('SISMEMBER', GROUP_LANES, lane) == 1) then
  local stream = ready_key(lane)
  local last = '0-0'
  local group = redis.call('XINFO', 'GROUPS', stream)[1]
  for i = 1, #group, 2 do
    if group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  -- A crashed worker's reclaimed tasks (pending for FRONT_CONSUMER) go first; a reclaimed task's own entry is
  -- among them. Bounded: at most bound + 1 entries are read, whatever the stream's length.
  if redis.call('HEXISTS', FRONT, lane) == 1 then
    ahead = #redis.call('XPENDING', stream, GROUP, '-', '(' .. t[3], bound + 1, FRONT_CONSUMER)
  end
  if ahead <= bound then
    local entries = redis.call('XRANGE', stream, '(' .. last, '(' .. t[3], 'COUNT', bound + 1 - ahead)
    ahead = ahead + #entries
  end
  if ahead > bound then
    ahead, stopped = bound, 1
  end
end
local group_leased, group_limit, group_wait = 0, -1, 0
if t[1] == 'ready' and t[5] and t[5] ~= '' then
  local c, r, b = limits_of(t[5])
  group_leased = tonumber(redis.call('HGET', GROUP_LEASED, t[5])) or 0
  if c then group_limit = c end
  if r then
    local tokens = group_tokens(t[5], r, b, now_ms(ARGV[3] or 0))
    if tokens < 1 then group_wait = math.ceil((1 - tokens) * 1000 / r) end
  end
end
local deadline = redis.call('ZSCORE', LEASES, id)
return { ahead, stopped, deadline and tonumber(deadline) or -1, group_leased, group_limit, group_wait }
