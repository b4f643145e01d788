-- list: one page of a queue's tasks in one state, through the structure that orders them (writes nothing).
-- Bounded whatever the queue's size: it reads at most limit + 1 index entries (plus a binary search of at
-- most ~2·log2(n) single-entry reads to find a cursor among equal scores, or, newest first, the ids of at
-- most FRONT_READ reclaimed entries per lane) and the hashes of the tasks on the page; never a payload,
-- result or checkpoint.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  source: ready | scheduled | leased | dead | completed | cancelled | expired
-- ARGV[2]  order: asc (oldest first) | desc (newest first)
-- ARGV[3]  limit (1..1000)
-- ARGV[4]  task type to keep ('' = every type)
-- ARGV[5]  cursor position ('' = the first page): a score (sorted sets) or a lane (ready)
-- ARGV[6]  cursor member: the task id (sorted sets) or the stream entry id (ready; in a group lane, its score) of
--          the last entry read
-- ARGV[7]  group to keep ('' = every group)
-- ARGV[8..] fields left out of the rows (payload, result, checkpoint)
-- Returns  {next position, next member ('' '' = no further page), then per task: id, n, then n values
--          field, value, field, value, ...}
-- Order: sorted sets by score (scheduled: due; leased: lease deadline; dead: when dead-lettered; finished: when
-- finished), equal scores by id; ready tasks lane by lane in claim order (highest priority first), within a lane
-- by stream entry (when they became ready; a crashed worker's reclaimed tasks keep their entries, which come
-- first, as claim.lua takes them), within a group lane by score (the same order: lib/common.lua). desc is the
-- exact reverse of asc. (Until the first claim after an upgrade moves the old layout's group streams, a group lane
-- that still has one is listed from its stream alone.)
--!include lib/common.lua
local source, asc, limit, type_filter = ARGV[1], ARGV[2] == 'asc', tonumber(ARGV[3]), ARGV[4]
local cursor_position, cursor_member, group_filter = ARGV[5], ARGV[6], ARGV[7]
local left_out = {}
for i = 8, #ARGV do left_out[ARGV[i]] = true end

-- The row of one task (false when its hash is gone or another type or group was asked for).
local function row(id, key)
  if type_filter ~= '' and redis.call('HGET', key, 'type') ~= type_filter then return false end
  if group_filter ~= '' and redis.call('HGET', key, 'group') ~= group_filter then return false end
  local fields = {}
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if not left_out[field] then fields[#fields + 1] = field end
  end
  if #fields == 0 then return false end
  local values = redis.call('HMGET', key, unpack(fields))
  local out = { id, 2 * #fields }
  for i = 1, #fields do
    out[#out + 1] = fields[i]
    out[#out + 1] = values[i] or ''
  end
  return out
end

-- ---- sorted sets: (score, member), equal scores ordered by member as Redis orders them ----

-- The first ascending rank in [lo, hi) whose member is > member (or >= with `inclusive`); hi when none.
local function first_tie_after(index, lo, hi, member, inclusive)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local m = redis.call('ZRANGE', index, mid, mid)[1]
    if m > member or (inclusive and m == member) then hi = mid else lo = mid + 1 end
  end
  return lo
end

local function zset_page(index)
  local total = redis.call('ZCARD', index)
  local start = 0 -- in the order's own ranks (REV for desc)
  if cursor_position ~= '' then
    local lo = redis.call('ZCOUNT', index, '-inf', '(' .. cursor_position)
    local hi = redis.call('ZCOUNT', index, '-inf', cursor_position)
    if asc then
      start = first_tie_after(index, lo, hi, cursor_member, false)
    else
      start = total - first_tie_after(index, lo, hi, cursor_member, true)
    end
  end
  local entries
  if asc then
    entries = redis.call('ZRANGE', index, start, start + limit, 'WITHSCORES')
  else
    entries = redis.call('ZRANGE', index, start, start + limit, 'REV', 'WITHSCORES')
  end
  local out = { '', '' }
  local read = math.min(#entries / 2, limit)
  if #entries / 2 > limit then
    out[1], out[2] = entries[2 * read], entries[2 * read - 1]
  end
  for n = 1, read do
    local id = entries[2 * n - 1]
    local r = row(id, task_key(id))
    if r then for _, v in ipairs(r) do out[#out + 1] = v end end
  end
  return out
end

-- ---- ready: the undelivered entries of each lane's stream, after its reclaimed ones ----
local found = {} -- {lane, sid (a group lane's: the score), id, true for a group lane}

-- Stream ids "ms-seq" compared as numbers.
local function sid_less(a, b)
  local a1, a2 = string.match(a, '^(%d+)-(%d+)$')
  local b1, b2 = string.match(b, '^(%d+)-(%d+)$')
  a1, a2, b1, b2 = tonumber(a1), tonumber(a2), tonumber(b1), tonumber(b2)
  return a1 < b1 or (a1 == b1 and a2 < b2)
end

-- Claim order of lanes (claim.lua): higher priority first, the old layout's lane of every type before the typed
-- lanes of its priority, then by name.
local function lane_before(a, b)
  local pa, ta = parse_lane(a)
  local pb, tb = parse_lane(b)
  if pa ~= pb then return pa > pb end
  if (ta == nil) ~= (tb == nil) then return ta == nil end
  return a < b
end

-- A type filter reads only the lanes of that type (and the old layout's lanes, which hold every type); a group
-- filter only that group's lanes.
local function lane_wanted(lane)
  local _, lane_type, lane_group_name = parse_lane(lane)
  if group_filter ~= '' and lane_group_name ~= group_filter then return false end
  return type_filter == '' or lane_type == nil or lane_type == type_filter
end

local function last_delivered(stream)
  local groups = redis.call('XINFO', 'GROUPS', stream)
  for _, group in ipairs(groups) do
    for i = 1, #group, 2 do
      if group[i] == 'name' and group[i + 1] == GROUP then
        for j = 1, #group, 2 do
          if group[j] == 'last-delivered-id' then return group[j + 1] end
        end
      end
    end
  end
  return '0-0'
end

-- The lanes that may hold reclaimed entries (a crashed worker's tasks, pending for FRONT_CONSUMER).
local front = {}
-- The most reclaimed entries of one lane a newest-first page reads (XPENDING reads oldest first).
local FRONT_READ = 10000

-- Adds the reclaimed entries named by XPENDING rows to the page (the task id is in the entry itself).
local function add_reclaimed(lane, stream, pending)
  for _, p in ipairs(pending) do
    local entry = redis.call('XRANGE', stream, p[1], p[1])[1]
    if entry then found[#found + 1] = { lane, entry[1], entry[2][2] } end
  end
end

-- Adds the tasks of a group lane to the page: after the cursor's score when it is the cursor's lane.
local function add_group_lane(lane, in_cursor_lane)
  local want = limit + 1 - #found
  if want <= 0 then return end
  local entries
  -- A cursor made from the lane's stream before the upgrade moved it (a stream entry id, no score) starts the lane over.
  in_cursor_lane = in_cursor_lane and tonumber(cursor_member) ~= nil
  if asc then
    local from = '-inf'
    if in_cursor_lane then from = '(' .. cursor_member end
    entries = redis.call('ZRANGE', group_ready_key(lane), from, '+inf', 'BYSCORE', 'LIMIT', 0, want, 'WITHSCORES')
  else
    local to = '+inf'
    if in_cursor_lane then to = '(' .. cursor_member end
    entries = redis.call('ZRANGE', group_ready_key(lane), to, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, want, 'WITHSCORES')
  end
  for i = 1, #entries, 2 do found[#found + 1] = { lane, entries[i + 1], entries[i], true } end
end

local function ready_page()
  for _, lane in ipairs(redis.call('HKEYS', FRONT)) do front[lane] = true end
  local lanes = redis.call('SMEMBERS', LEVELS)
  local sorted_sets, streams = group_lanes()
  local in_stream = {}
  for _, lane in ipairs(streams) do
    lanes[#lanes + 1] = lane
    in_stream[lane] = true
  end
  local in_sorted_set = {}
  for _, lane in ipairs(sorted_sets) do
    if not in_stream[lane] then
      lanes[#lanes + 1] = lane
      in_sorted_set[lane] = true
    end
  end
  table.sort(lanes, lane_before)
  if not asc then
    for i = 1, math.floor(#lanes / 2) do lanes[i], lanes[#lanes - i + 1] = lanes[#lanes - i + 1], lanes[i] end
  end
  local function comes_before(a, b) if asc then return lane_before(a, b) else return lane_before(b, a) end end
  for _, lane in ipairs(lanes) do
    if #found > limit then break end
    local in_cursor_lane = cursor_position ~= '' and lane == cursor_position
    local wanted = lane_wanted(lane) and (cursor_position == '' or in_cursor_lane or comes_before(cursor_position, lane))
    if wanted and in_sorted_set[lane] then
      add_group_lane(lane, in_cursor_lane)
    elseif wanted then
      local stream = ready_key(lane)
      local last = last_delivered(stream)
      -- Reclaimed entries come first in a lane (claim.lua); their ids are below the last delivered one.
      local reclaimed = front[lane] and (not asc or not in_cursor_lane or sid_less(cursor_member, last))
      if asc and reclaimed then
        local from = '-'
        if in_cursor_lane then from = '(' .. cursor_member end
        add_reclaimed(lane, stream, redis.call('XPENDING', stream, GROUP, from, '+', limit + 1 - #found, FRONT_CONSUMER))
      end
      local want = limit + 1 - #found
      local entries = {}
      if want > 0 and asc then
        local from = last
        if in_cursor_lane and sid_less(last, cursor_member) then from = cursor_member end
        entries = redis.call('XRANGE', stream, '(' .. from, '+', 'COUNT', want)
      elseif want > 0 then
        local to = '+'
        if in_cursor_lane then to = '(' .. cursor_member end
        if not in_cursor_lane or sid_less(last, cursor_member) then
          entries = redis.call('XREVRANGE', stream, to, '(' .. last, 'COUNT', want)
        end
      end
      for _, entry in ipairs(entries) do
        found[#found + 1] = { lane, entry[1], entry[2][2] }
      end
      if not asc and reclaimed and #found <= limit then
        -- Newest first: the last ones before the cursor, of at most FRONT_READ reclaimed entries.
        local to = '+'
        if in_cursor_lane then to = '(' .. cursor_member end
        local pending = redis.call('XPENDING', stream, GROUP, '-', to, FRONT_READ, FRONT_CONSUMER)
        local newest = {}
        for i = #pending, math.max(1, #pending - (limit - #found)), -1 do newest[#newest + 1] = pending[i] end
        -- (limit + 1 - #found entries: the one past the page tells that another page follows.)
        add_reclaimed(lane, stream, newest)
      end
    end
  end
  local out = { '', '' }
  local read = math.min(#found, limit)
  if #found > limit then
    out[1], out[2] = found[read][1], found[read][2]
  end
  for n = 1, read do
    local lane, sid, id, in_group_lane = found[n][1], found[n][2], found[n][3], found[n][4]
    local key = task_key(id)
    local t = redis.call('HMGET', key, 'state', 'sid')
    -- A stale entry (its task moved on) is no ready task.
    if t[1] == 'ready' and (t[2] == sid or (in_group_lane and is_group_entry(t[2]))) then
      local r = row(id, key)
      if r then for _, v in ipairs(r) do out[#out + 1] = v end end
    end
  end
  return out
end

if source == 'ready' then return ready_page() end
local indexes = { scheduled = SCHEDULED, leased = LEASES, dead = DEAD }
return zset_page(indexes[source] or finished_key(source))
