-- claim: leases up to N ready tasks of one queue to a worker, of the task types it handles, after promoting
-- due scheduled work. It reads only the lanes (lib/common.lua) of those types, and the old layout's lanes of
-- every type; a task found there that the worker does not handle is moved to its own lane, not leased, and
-- such a lane, once empty, is deleted. Order: first one task from each overdue lane (its oldest waiting task
-- waited at least the priority max wait), the overdue lanes in an order that turns by one on every call
-- that finds two or more (TURN), so one-slot claims serve each in turn; then the rest highest priority
-- first. The lanes of one priority and type with groups are served as one, round-robin across their groups with
-- ready work, skipping a group at its limit (lib/groups.lua). Within a lane, reclaimed work (a crashed worker's
-- tasks, reap.lua: pending entries of the consumer FRONT_CONSUMER in a stream, the lowest scores in a group lane)
-- goes before the lane's new entries. A group lane (a sorted set of task ids, lib/common.lua) is read with one
-- ZPOPMIN per visit; the old layout's group streams are moved into group lanes by the first claim that serves a
-- rotation (migrate_group_streams). A task is leased at the moment it is claimed: fresh token, deadline = now +
-- lease.
-- A task that never started and whose expiry passed is expired instead (expiry only bounds the wait
-- for a first start: retries, hand-backs and replays of a started task do not expire).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2]  worker id
-- ARGV[3]  maximum number of tasks
-- ARGV[4]  lease duration in ms
-- ARGV[5]  token prefix (random per call; the token of the n-th task is prefix .. n)
-- ARGV[6]  maximum number of scheduled tasks to promote first
-- ARGV[7]  retention in ms for tasks that expire here
-- ARGV[8]  priority max wait in ms (0 = strict priority)
-- ARGV[9..] the task types the worker handles; none = every type
-- Returns  {promoted, expired, held (lib/flow.lua: 0, ms until a rate limit admits more, or -1 until a lease ends),
--          then 13 values per leased task: id, type, payload, attempt, max_attempts,
--          timeout_ms, traceparent, tracestate, token, deadline_ms, enqueued_ms, priority, checkpoint}
--!include lib/common.lua
--!include lib/promote.lua
--!include lib/flow.lua
--!include lib/groups.lua
local now = now_ms(ARGV[1])
local worker = ARGV[2]
local wanted = tonumber(ARGV[3])
local lease_ms = tonumber(ARGV[4])
local token_prefix = ARGV[5]
local retention_ms = ARGV[7]
local promoted, expired, promoted_lanes = promote_due(now, tonumber(ARGV[6]), retention_ms)
-- The queue's gates (lib/flow.lua): a paused queue leases nothing; a concurrency limit and a token bucket cap
-- `wanted`. A gate that admits nothing ends the call here (no lane is read); work it promoted is announced, so
-- every dispatcher learns of it (each then hears from its own claim when the gate lets work through).
wanted = admit_queue(now, wanted)
if wanted == 0 then
  if promoted > 0 then redis.call('PUBLISH', READY_CHANNEL, QUEUE) end
  return { promoted, expired, held_ms }
end
local handles = nil -- task type -> true; nil: every type
if #ARGV >= 9 then
  handles = {}
  for i = 9, #ARGV do handles[ARGV[i]] = true end
end

-- How long the oldest undelivered entry of a stream has waited at `at` (stream ids carry Redis's clock), or nil.
local function head_wait(stream, at)
  local group = redis.call('XINFO', 'GROUPS', stream)[1]
  local last = '0-0'
  for i = 1, #group, 2 do
    if group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  local head = redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', 1)
  if #head == 0 then return nil end
  return at - tonumber(string.match(head[1][1], '^(%d+)'))
end

-- The lanes this worker reads, the higher priority first, then the old layout's lanes (so they drain),
-- then by name.
local lanes, priority, typed = {}, {}, {}
for _, lane in ipairs(redis.call('SMEMBERS', LEVELS)) do
  local level, lane_type = parse_lane(lane)
  if not handles or not lane_type or handles[lane_type] then
    lanes[#lanes + 1] = lane
    priority[lane], typed[lane] = level, lane_type ~= nil
  end
end
-- The rotations of group lanes (lib/groups.lua), each served in the place of its priority and type's lane.
local rotation, plain_exists = {}, {}
for _, lane in ipairs(redis.call('HKEYS', ROTATIONS)) do
  local level, lane_type = parse_lane(lane)
  if not handles or handles[lane_type] then
    if priority[lane] then
      plain_exists[lane] = true
    else
      lanes[#lanes + 1] = lane
      priority[lane], typed[lane] = level, true
    end
    rotation[lane] = true
  end
end
if next(rotation) and redis.call('EXISTS', GROUP_LANES) == 1 then migrate_group_streams() end
table.sort(lanes, function(a, b)
  if priority[a] ~= priority[b] then return priority[a] > priority[b] end
  if typed[a] ~= typed[b] then return typed[b] end
  return a < b
end)
-- The lanes that may hold reclaimed work: one read per call (nothing when no worker crashed).
local front = {}
local marked = redis.call('HKEYS', FRONT)
for _, lane in ipairs(marked) do front[lane] = true end

-- The overdue lanes: the oldest waiting task (reclaimed, or the first undelivered entry) waited at least the
-- max wait. Measured on the store's clock (stream ids carry Redis's time; the shift is zero outside tests);
-- a reclaimed entry's wait is its idle time in the pending list (since it was reclaimed). A group lane's head is
-- its lowest score, and its wait is since the task's 'enqueued' (set when it was reclaimed, for a reclaimed one).
local max_wait = tonumber(ARGV[8]) or 0
local overdue = {}
if max_wait > 0 and #lanes > 1 then
  for _, lane in ipairs(lanes) do
    -- A rotation is judged by the lane whose turn comes first.
    local head = lane
    if rotation[lane] then head = rotation_head(lane) or (plain_exists[lane] and lane) end
    local late = false
    if head and head ~= lane then
      -- A group lane: its first task's wait.
      local first = redis.call('ZRANGE', group_ready_key(head), 0, 0)[1]
      local enqueued = first and tonumber(redis.call('HGET', task_key(first), 'enqueued'))
      late = enqueued ~= nil and now - enqueued >= max_wait
      head = nil
    end
    local stream = head and ready_key(head)
    late = late or stream and front[head] and
      #redis.call('XPENDING', stream, GROUP, 'IDLE', max_wait, '-', '+', 1, FRONT_CONSUMER) > 0
    if stream and not late then
      local waited = head_wait(stream, now)
      late = waited ~= nil and waited >= max_wait
    end
    if late then overdue[#overdue + 1] = lane end
  end
  if #overdue > 1 then
    -- Turn the order by one per call; the counter outlives a burst of overload by a minute at most.
    local turn = redis.call('INCR', TURN)
    redis.call('PEXPIRE', TURN, 60000)
    local first, turned = turn % #overdue, {}
    for i = 1, #overdue do turned[i] = overdue[(first + i - 1) % #overdue + 1] end
    overdue = turned
  end
end

local out = { promoted, expired, 0 }
local leased = 0
local deadline = now + lease_ms
-- Formatted once per call: Lua turns a number into a string with sprintf every time it is passed on.
local now_text, deadline_text = string.format('%d', now), string.format('%d', deadline)
local leases = {}
-- Tasks moved out of the old layout's lanes, at most MAX_MOVES per call (the rest on the next: it is woken).
local MAX_MOVES = 1000
local moved = 0
-- Leases (or drops, expires or moves) the entries read from a lane: stream entries {sid, {'id', id}}, or
-- (`stream` nil) the task ids popped from a group lane (their places are gone already; a task keeps its sid).
local function lease_entries(lane, stream, entries)
  for _, entry in ipairs(entries) do
    local sid, id
    if stream then sid, id = entry[1], entry[2][2] else id = entry end
    local key = task_key(id)
    -- One read per task: everything the checks and the assignment need.
    local t = redis.call('HMGET', key, 'state', 'sid', 'expires', 'attempt', 'started',
      'type', 'payload', 'max', 'timeout', 'tp', 'ts', 'enqueued', 'checkpoint')
    if t[1] ~= 'ready' or (stream and t[2] ~= sid) or (not stream and not is_group_entry(t[2])) then
      -- A stale entry (its task was cancelled or moved on): remove it, lease nothing.
      if stream then
        redis.call('XACK', stream, GROUP, sid)
        redis.call('XDEL', stream, sid)
      end
    else
      local expires = tonumber(t[3]) or 0
      if expires > 0 and now >= expires and not t[5] then
        drop_stream_entry(key)
        finish(id, key, 'expired', now, retention_ms, 'expired')
        expired = expired + 1
        out[2] = expired
      elseif handles and not typed[lane] and not handles[t[6]] then
        -- The old layout's lane: a task of a type this worker does not handle goes to its own lane.
        redis.call('XACK', stream, GROUP, sid)
        redis.call('XDEL', stream, sid)
        local own = lane_of(priority[lane], t[6])
        redis.call('HSET', key, 'sid', append_to_lane(id, own), 'lane', own)
        moved = moved + 1
      else
        leased = leased + 1
        local attempt = (tonumber(t[4]) or 0) + 1
        local token = token_prefix .. leased
        redis.call('HSET', key, 'state', 'leased', 'token', token, 'worker', worker, 'started', now_text,
          'attempt', attempt)
        leases[#leases + 1] = deadline_text
        leases[#leases + 1] = id
        out[#out + 1] = id
        out[#out + 1] = t[6]
        out[#out + 1] = t[7]
        out[#out + 1] = attempt
        out[#out + 1] = t[8]
        out[#out + 1] = t[9]
        out[#out + 1] = t[10]
        out[#out + 1] = t[11]
        out[#out + 1] = token
        out[#out + 1] = deadline
        out[#out + 1] = t[12]
        out[#out + 1] = priority[lane]
        out[#out + 1] = t[13] or ''
        notify_changed(id, false)
      end
    end
  end
end

-- Leases tasks of a group lane until `target` tasks are leased in this call (or the lane has none left): its
-- lowest scores first (reclaimed, then oldest), one ZPOPMIN per pass.
local function take_group(lane, target)
  local zset = group_ready_key(lane)
  while leased < target do
    local count = target - leased
    local popped = redis.call('ZPOPMIN', zset, count)
    if #popped == 0 then break end
    local ids = {}
    for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
    lease_entries(lane, nil, ids)
    -- Fewer than asked for: the lane is empty (nothing in this call adds to it).
    if #ids < count then break end
  end
end

-- Leases tasks of one lane until `target` tasks are leased in this call (or the lane has none left).
local function take(lane, target)
  if string.find(lane, GROUP_MARK, 1, true) then return take_group(lane, target) end
  local stream = ready_key(lane)
  -- Reclaimed entries first: moved from the front consumer to CONSUMER, they keep their ids (so every
  -- reader of a task's sid still finds it). An entry deleted meanwhile leaves the pending list with XCLAIM.
  while front[lane] and leased < target and (typed[lane] or moved < MAX_MOVES) do
    local pending = redis.call('XPENDING', stream, GROUP, '-', '+', target - leased, FRONT_CONSUMER)
    if #pending == 0 then
      redis.call('HDEL', FRONT, lane)
      front[lane] = nil
      break
    end
    local sids = {}
    for i, p in ipairs(pending) do sids[i] = p[1] end
    local entries = redis.call('XCLAIM', stream, GROUP, CONSUMER, 0, unpack(sids))
    lease_entries(lane, stream, entries)
  end
  while leased < target and (typed[lane] or moved < MAX_MOVES) do
    local count = target - leased
    if not typed[lane] then count = math.min(count, MAX_MOVES - moved) end
    local reply = redis.call('XREADGROUP', 'GROUP', GROUP, CONSUMER, 'COUNT', count, 'STREAMS', stream, '>')
    local entries = reply and reply[1][2] or {}
    if #entries == 0 then
      -- An old layout's lane with no entry left (none waiting, none leased) is retired: nothing writes it again.
      if not typed[lane] and redis.call('XLEN', stream) == 0 then
        redis.call('SREM', LEVELS, lane)
        redis.call('DEL', stream)
        redis.call('HDEL', FRONT, lane)
      end
      break
    end
    lease_entries(lane, stream, entries)
    -- Fewer entries than asked for: the lane has no more undelivered ones (nothing in this call appends to it).
    if #entries < count then break end
  end
end

-- Leases from a lane, or round-robin from a rotation, until `target` tasks are leased in this call.
local function serve(lane, target)
  if rotation[lane] then
    -- Leases up to n tasks of one of the rotation's lanes (lib/groups.lua's serve_rotation); returns how many.
    local level = priority[lane]
    serve_rotation(lane, plain_exists[lane], target - leased, now, function(of_group, n)
      priority[of_group], typed[of_group] = level, true
      local before = leased
      take(of_group, leased + n)
      return leased - before
    end)
  else
    take(lane, target)
  end
end

-- One task from each overdue lane, in this call's turn; then the rest by priority.
for _, lane in ipairs(overdue) do
  if leased >= wanted then break end
  serve(lane, leased + 1)
end
for _, lane in ipairs(lanes) do
  if leased >= wanted then break end
  serve(lane, wanted)
end
save_groups(now)
-- All leases of the call in one ZADD (in chunks: Lua's unpack has a stack limit).
for i = 1, #leases, 1000 do
  redis.call('ZADD', LEASES, unpack(leases, i, math.min(i + 999, #leases)))
end
if #leases > 0 then mark_due(deadline) end
-- Work this call made ready in lanes this worker does not read is for other workers: wake their dispatchers.
local foreign = moved > 0
if handles and not foreign then
  for lane in pairs(promoted_lanes) do
    local _, lane_type = parse_lane(lane)
    if not handles[lane_type] then foreign = true end
  end
end
if foreign then redis.call('PUBLISH', READY_CHANNEL, QUEUE) end
spend_queue(now, leased)
out[3] = held_ms
return out
