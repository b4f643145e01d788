-- The visit of the background loops (reap.lua, promote.lua) to a queue the due index (DUE, lib/common.lua) named:
-- it sets the queue's entry to the earliest time something in it falls due, and forgets a queue that stayed empty.
-- Needs lib/common.lua.
--   something pending (a lease, scheduled work, a dead letter): due at the earliest lease deadline, scheduled
--     time or dead letter's end of age.
--   nothing pending, but ready work waits for a worker (whose claim marks the queue), finished tasks are kept, or
--     a Wait or Watch is open: due again after the idle expiry, or when the last finished index expires if later.
--   nothing at all: the idle clock starts (STATS fields idle_since, idle_submitted: when a visit first found the
--     queue empty, and its submitted count then); a visit that finds the queue still empty an idle expiry later,
--     with no task submitted in between, forgets it: its registry entry and its leftover keys (lanes, empty
--     streams, counters, the reclaimed-lane marks, the overdue turn, the group lanes, their order
--     counter and the rotations) go. The enqueue script refuses a queue
--     the registry does not hold, so the broker registers it again (within the cap) before its next task: a
--     submit never writes into a forgotten queue.
local FINISHED_STATES = { 'completed', 'cancelled', 'expired' }

-- The earliest ms at which a lease, scheduled task or dead letter needs a visit (nil: none pending).
local function next_due(dead_age_ms)
  local due = nil
  for _, source in ipairs({ { LEASES, 0 }, { SCHEDULED, 0 }, { DEAD, tonumber(dead_age_ms) } }) do
    local head = redis.call('ZRANGE', source[1], 0, 0, 'WITHSCORES')
    if head[2] then
      local ms = tonumber(head[2]) + source[2]
      if not due or ms < due then due = ms end
    end
  end
  return due
end

-- Whether a queue with nothing pending holds anything else: ready entries, kept finished tasks, open Waits or Watches.
local function holds_something()
  local lanes, streams = group_lanes()
  for _, set in ipairs({ redis.call('SMEMBERS', LEVELS), streams }) do
    for _, lane in ipairs(set) do
      if redis.call('XLEN', ready_key(lane)) > 0 then return true end
    end
  end
  for _, lane in ipairs(lanes) do
    if redis.call('EXISTS', group_ready_key(lane)) == 1 then return true end
  end
  local keys = { WAITERS, WATCHERS }
  for _, state in ipairs(FINISHED_STATES) do keys[#keys + 1] = finished_key(state) end
  return redis.call('EXISTS', unpack(keys)) > 0
end

-- Deletes an empty queue's leftover keys and its registry and due index entries.
local function forget_queue()
  for _, lane in ipairs(redis.call('SMEMBERS', LEVELS)) do redis.call('DEL', ready_key(lane)) end
  local lanes, streams = group_lanes()
  for _, lane in ipairs(streams) do redis.call('DEL', ready_key(lane)) end
  for _, lane in ipairs(lanes) do redis.call('DEL', group_ready_key(lane)) end
  for _, lane in ipairs(redis.call('HKEYS', ROTATIONS)) do redis.call('DEL', rotation_key(lane)) end
  redis.call('DEL', LEVELS, STATS, FRONT, TURN, GROUP_LANES, ROTATIONS, GROUP_LEASED, LANE_SEQ)
  redis.call('SREM', QUEUES, QUEUE)
  redis.call('ZREM', DUE, QUEUE)
end

-- Sets the queue's due time by the rules above (or forgets it). Returns the new due time in ms, or -1 when forgotten.
local function revisit(now, dead_age_ms, idle_ms)
  idle_ms = tonumber(idle_ms)
  local due = next_due(dead_age_ms)
  if not due and holds_something() then
    due = now + idle_ms
    for _, state in ipairs(FINISHED_STATES) do
      due = math.max(due, now + redis.call('PTTL', finished_key(state)))
    end
  end
  if due then
    redis.call('ZADD', DUE, due, QUEUE)
    redis.call('HDEL', STATS, 'idle_since', 'idle_submitted')
    return due
  end
  if redis.call('SISMEMBER', QUEUES, QUEUE) == 0 then
    forget_queue() -- forgotten already (by another visit): no clock starts again
    return -1
  end
  local idle = redis.call('HMGET', STATS, 'submitted', 'idle_since', 'idle_submitted')
  local submitted = idle[1] or '0'
  local since = tonumber(idle[2])
  if not since or idle[3] ~= submitted then
    since = now
    redis.call('HSET', STATS, 'idle_since', string.format('%d', since), 'idle_submitted', submitted)
  end
  if now >= since + idle_ms then
    forget_queue()
    return -1
  end
  redis.call('ZADD', DUE, since + idle_ms, QUEUE)
  return since + idle_ms
end
