-- claim: leases up to N ready tasks of one queue to a worker, of the task types it handles, highest
-- priority first, after promoting due scheduled work. It reads only the lanes (lib/common.lua) of those
-- types, and the old layout's lanes of every type; a task found there that the worker does not handle is
-- moved to its own lane, not leased, and such a lane, once empty, is deleted. A task is leased at the
-- moment it is claimed: fresh token, deadline = now + lease.
-- A task that never started and whose expiry passed is expired instead (expiry only bounds the wait
-- for a first start: retries, hand-backs and replays of a started task do not expire).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- ARGV[1]  time shift in ms
-- ARGV[2]  worker id
-- ARGV[3]  maximum number of tasks
-- ARGV[4]  lease duration in ms
-- ARGV[5]  token prefix (random per call; the token of the n-th task is prefix .. n)
-- ARGV[6]  maximum number of scheduled tasks to promote first
-- ARGV[7]  retention in ms for tasks that expire here
-- ARGV[8]  priority ageing step in ms (0 = strict priority): a level's effective priority rises by one
--          for every step its oldest waiting task has waited, so low priority never starves
-- ARGV[9..] the task types the worker handles; none = every type
-- Returns  {promoted, expired, then 13 values per leased task: id, type, payload, attempt, max_attempts,
--          timeout_ms, traceparent, tracestate, token, deadline_ms, enqueued_ms, priority, checkpoint}
--!include lib/common.lua
--!include lib/promote.lua
local now = now_ms(ARGV[1])
local worker = ARGV[2]
local wanted = tonumber(ARGV[3])
local lease_ms = tonumber(ARGV[4])
local token_prefix = ARGV[5]
local retention_ms = ARGV[7]
local promoted, expired, promoted_lanes = promote_due(now, tonumber(ARGV[6]), retention_ms)
local handles = nil -- task type -> true; nil: every type
if #ARGV >= 9 then
  handles = {}
  for i = 9, #ARGV do handles[ARGV[i]] = true end
end

-- How long the oldest undelivered entry of a stream has waited (stream ids carry Redis's clock), or nil.
local function head_wait(stream, real_now)
  local group = redis.call('XINFO', 'GROUPS', stream)[1]
  local last = '0-0'
  for i = 1, #group, 2 do
    if group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  local head = redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', 1)
  if #head == 0 then return nil end
  return real_now - tonumber(string.match(head[1][1], '^(%d+)'))
end

-- The lanes this worker reads, by effective priority; at equal rank the higher priority, then the old
-- layout's lanes (so they drain), then by name.
local lanes, priority, typed, rank = {}, {}, {}, {}
for _, lane in ipairs(redis.call('SMEMBERS', LEVELS)) do
  local level, lane_type = parse_lane(lane)
  if not handles or not lane_type or handles[lane_type] then
    lanes[#lanes + 1] = lane
    priority[lane], typed[lane], rank[lane] = level, lane_type ~= nil, level
  end
end
local ageing_ms = tonumber(ARGV[8]) or 0
if ageing_ms > 0 and #lanes > 1 then
  local real_now = now_ms(0)
  for _, lane in ipairs(lanes) do
    local waited = head_wait(ready_key(lane), real_now)
    if waited then rank[lane] = rank[lane] + math.floor(math.max(waited, 0) / ageing_ms) end
  end
end
table.sort(lanes, function(a, b)
  if rank[a] ~= rank[b] then return rank[a] > rank[b] end
  if priority[a] ~= priority[b] then return priority[a] > priority[b] end
  if typed[a] ~= typed[b] then return typed[b] end
  return a < b
end)

local out = { promoted, expired }
local leased = 0
local deadline = now + lease_ms
-- Formatted once per call: Lua turns a number into a string with sprintf every time it is passed on.
local now_text, deadline_text = string.format('%d', now), string.format('%d', deadline)
local leases = {}
-- Tasks moved out of the old layout's lanes, at most MAX_MOVES per call (the rest on the next: it is woken).
local MAX_MOVES = 1000
local moved = 0
for _, lane in ipairs(lanes) do
  local stream = ready_key(lane)
  while leased < wanted and (typed[lane] or moved < MAX_MOVES) do
    local count = wanted - leased
    if not typed[lane] then count = math.min(count, MAX_MOVES - moved) end
    local reply = redis.call('XREADGROUP', 'GROUP', GROUP, CONSUMER, 'COUNT', count, 'STREAMS', stream, '>')
    local entries = reply and reply[1][2] or {}
    if #entries == 0 then
      -- An old layout's lane with no entry left (none waiting, none leased) is retired: nothing writes it again.
      if not typed[lane] and redis.call('XLEN', stream) == 0 then
        redis.call('SREM', LEVELS, lane)
        redis.call('DEL', stream)
      end
      break
    end
    for _, entry in ipairs(entries) do
      local sid, id = entry[1], entry[2][2]
      local key = task_key(id)
      -- One read per task: everything the checks and the assignment need.
      local t = redis.call('HMGET', key, 'state', 'sid', 'expires', 'attempt', 'started',
        'type', 'payload', 'max', 'timeout', 'tp', 'ts', 'enqueued', 'checkpoint')
      if t[1] ~= 'ready' or t[2] ~= sid then
        -- A stale entry (its task was cancelled or moved on): remove it, lease nothing.
        redis.call('XACK', stream, GROUP, sid)
        redis.call('XDEL', stream, sid)
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
  if leased >= wanted then break end
end
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
return out
