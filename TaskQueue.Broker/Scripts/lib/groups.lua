-- Groups: the claim's round-robin over the groups of one priority and task type, and the group limits. Spliced in
-- after lib/common.lua and lib/flow.lua where claim.lua says `--!include lib/groups.lua`.
-- Round-robin: the lanes of one priority and type that may hold ready work take turns in their rotation
-- (rotation_key, lib/common.lua): a claim serves one task from the group with the lowest turn, gives it the next
-- turn (the rotation's counter in ROTATIONS), and so on, so a group's backlog cannot starve another group. A group
-- whose lane is empty leaves the rotation (an empty group lane is no key: lib/common.lua); the lane without a group
-- takes part as the group '' (a claim puts it back in at turn 0 while that lane exists).
-- Limits: FLOW's group_concurrency, group_rate and group_burst are every group's defaults; FLOW_GROUPS's
-- "<concurrency> <rate> <burst>" ('-' where the default applies) overrides them for one group. Absent or 0 = no
-- limit; burst defaults to 1. The group '' (tasks without a group) has no group limit: the queue's limits cover it.
--   concurrency: GROUP_LEASED counts each group's leases exactly (a claim adds what it leased, every lease end
--     subtracts: lib/common.lua end_group_lease); a group at its limit is skipped (hold_until_released).
--   rate, burst: a token bucket per group, group_bucket_key(group) = "<tokens> <ms>", refilled by Redis time at
--     rate tokens per second up to burst, and expiring when it would be full again (a full bucket is no key);
--     a group without a whole token is skipped (hold_for the ms until it has one).
-- A skipped group goes to the end of its rotation, so groups at their limit never hide the ones behind them.
local function group_bucket_key(group) return base .. 'group:bucket:' .. group end

-- Past this many group visits in one call the claim stops and asks its dispatcher to claim again at once.
local MAX_GROUP_VISITS = 1000
local group_visits = 0
local group_defaults = nil -- {concurrency, rate, burst, overrides exist}, read once per call
local group_state = {} -- group -> {c = limit, r = rate, b = burst, leased = count, tokens = n, taken = n}

-- A limit field: nil (no limit) when absent, not a number, or not positive.
local function limit_value(text)
  local n = tonumber(text)
  if n and n > 0 then return n end
  return nil
end

-- The queue's group defaults, read once per call.
local function read_group_defaults()
  if not group_defaults then
    local d = redis.call('HMGET', FLOW, 'group_concurrency', 'group_rate', 'group_burst')
    group_defaults = { d[1], d[2], d[3], redis.call('EXISTS', FLOW_GROUPS) == 1 }
  end
end

-- A group's limits from the defaults and its override ("<concurrency> <rate> <burst>", or nil).
local function limits_with(override)
  local c, r, b = group_defaults[1], group_defaults[2], group_defaults[3]
  if override then
    local oc, orate, ob = string.match(override, '^(%S+) (%S+) (%S+)$')
    if oc and oc ~= '-' then c = oc end
    if orate and orate ~= '-' then r = orate end
    if ob and ob ~= '-' then b = ob end
  end
  return limit_value(c), limit_value(r), math.max(1, limit_value(b) or 1)
end

-- One group's limits (for Explain: a claim reads a page of groups at once, read_groups).
local function limits_of(group)
  read_group_defaults()
  local override = nil
  if group_defaults[4] then override = redis.call('HGET', FLOW_GROUPS, group) or nil end
  return limits_with(override)
end

-- The tokens at `now` of a bucket stored as `bucket` ("<tokens> <ms>"; nil: full), refilled at `r` a second since
-- it was last written, up to `b` (lib/flow.lua's bucket_tokens, the queue bucket's rule).
local function bucket_now(bucket, r, b, now)
  local tokens, at = nil, nil
  if bucket then tokens, at = string.match(bucket, '^(%S+) (%S+)$') end
  return bucket_tokens(tonumber(tokens), tonumber(at), r, b, now)
end

-- The tokens in one group's bucket at `now` (for Explain).
local function group_tokens(group, r, b, now)
  return bucket_now(redis.call('GET', group_bucket_key(group)) or nil, r, b, now)
end

-- Reads what the limits of `groups` (named groups a claim is about to visit) need, a few commands for them all:
-- their overrides (one HMGET, only when the queue has any), their lease counts (one HMGET: the claim writes every
-- count it changes back in one HSET, save_groups) and, when some of them have a rate limit, their buckets (one
-- MGET).
local function read_groups(groups, now)
  if #groups == 0 then return end
  read_group_defaults()
  local overrides = {}
  if group_defaults[4] then overrides = redis.call('HMGET', FLOW_GROUPS, unpack(groups)) end
  local leased = redis.call('HMGET', GROUP_LEASED, unpack(groups))
  local rated = {}
  for i, group in ipairs(groups) do
    local c, r, b = limits_with(overrides[i] or nil)
    group_state[group] = { c = c, r = r, b = b, leased = tonumber(leased[i]) or 0, taken = 0 }
    if r then rated[#rated + 1] = group end
  end
  if #rated == 0 then return end
  local keys = {}
  for i, group in ipairs(rated) do keys[i] = group_bucket_key(group) end
  local buckets = redis.call('MGET', unpack(keys))
  for i, group in ipairs(rated) do
    local st = group_state[group]
    st.tokens = bucket_now(buckets[i] or nil, st.r, st.b, now)
  end
end

-- How many of `n` more tasks `group` may lease now (its state read by read_groups); records the hold when none.
local function group_allowance(group, n)
  if group == '' then return n end
  local st = group_state[group]
  if st.c then
    if st.leased >= st.c then
      hold_until_released()
      return 0
    end
    n = math.min(n, math.floor(st.c - st.leased))
  end
  if st.r then
    if st.tokens < 1 then
      hold_for((1 - st.tokens) * 1000 / st.r)
      return 0
    end
    n = math.min(n, math.floor(st.tokens))
  end
  return n
end

-- `group` leased `n` tasks (within its allowance).
local function group_took(group, n)
  local st = group_state[group]
  if not st then return end
  st.taken = st.taken + n
  st.leased = st.leased + n
  if st.r then st.tokens = st.tokens - n end
end

-- Writes what the call's leases did to the groups: their lease counts (one HSET: each count was read in this call,
-- and nothing else changes it before the call ends) and their buckets (one SET each, expiring when full again).
local function save_groups(now)
  local counts = {}
  for group, st in pairs(group_state) do
    if st.taken > 0 then
      counts[#counts + 1] = group
      counts[#counts + 1] = st.leased
      if st.r then
        local full_in = math.max(1, math.ceil((st.b - st.tokens) * 1000 / st.r))
        redis.call('SET', group_bucket_key(group), string.format('%.6f %d', st.tokens, now), 'PX', full_in)
      end
    end
  end
  for i = 1, #counts, 1000 do
    redis.call('HSET', GROUP_LEASED, unpack(counts, i, math.min(i + 999, #counts)))
  end
end

-- The lane of a group of a rotation ('' is the lane without a group).
local function group_lane(plain_lane, group)
  if group == '' then return plain_lane end
  return plain_lane .. GROUP_MARK .. group
end

-- The lane of the group whose turn comes first in a rotation (nil: none), for the priority max wait's look.
local function rotation_head(plain_lane)
  local head = redis.call('ZRANGE', rotation_key(plain_lane), 0, 0)[1]
  if head == nil then return nil end
  return group_lane(plain_lane, head)
end

-- Leases up to `want` tasks from a rotation, in turn order, round after round while a round leased something:
-- in a round each group gets an equal share of what is still wanted (at least one), so a claim's tasks are split
-- evenly across the groups with ready work (the tasks of one claim start together). `take(lane, n)` leases up to
-- n tasks of a lane and returns how many (fewer: the lane holds no more ready tasks). `plain_exists`: the lane
-- without a group exists, so '' takes part. Returns the number leased.
-- The rotation's counter is read once per call and written once at its end; the next turns a round gives are
-- written in one ZADD when the round ends (a round reads only turns given before it began, so it never needs them
-- earlier); a round reads the groups in pages of what it still wants (at least 64), and each page's limits at once.
local function serve_rotation(plain_lane, plain_exists, want, now, take)
  local rotation = rotation_key(plain_lane)
  if plain_exists then redis.call('ZADD', rotation, 'NX', 0, '') end
  local counter = tonumber(redis.call('HGET', ROTATIONS, plain_lane)) or 0
  local first_counter = counter
  local got, skipped = 0, {}
  local turns = {} -- the round's new turns, {turn, group, ...}, for one ZADD
  local function to_the_end(group)
    counter = counter + 1
    turns[#turns + 1] = counter
    turns[#turns + 1] = group
  end
  local function write_turns()
    for i = 1, #turns, 1000 do
      redis.call('ZADD', rotation, unpack(turns, i, math.min(i + 999, #turns)))
    end
    turns = {}
  end
  local stopped = false
  while got < want and not stopped do
    -- One round: every group whose turn was given before the round began, lowest turn first (a group served
    -- or skipped in the round gets a later turn, so it waits for the next round).
    local round_end = counter
    local share = math.max(1, math.floor((want - got) / math.max(1, redis.call('ZCARD', rotation))))
    local cursor, last, served = '-inf', nil, 0
    while got < want do
      if last then cursor = '(' .. last end
      local size = math.min(MAX_GROUP_VISITS + 1, math.max(64, want - got))
      local page = redis.call('ZRANGE', rotation, cursor, round_end, 'BYSCORE', 'LIMIT', 0, size, 'WITHSCORES')
      if #page == 0 then break end
      local unread = {}
      for i = 1, #page, 2 do
        local group = page[i]
        if group ~= '' and not group_state[group] then unread[#unread + 1] = group end
      end
      read_groups(unread, now)
      for i = 1, #page, 2 do
        if got >= want then break end
        local group = page[i]
        last = page[i + 1]
        group_visits = group_visits + 1
        if group_visits > MAX_GROUP_VISITS then
          hold_for(1)
          stopped = true
          break
        end
        local allowed = 0
        if not skipped[group] then allowed = group_allowance(group, math.min(share, want - got)) end
        if skipped[group] then
          -- At its limit earlier in this call: already at the end of the rotation.
        elseif allowed == 0 then
          skipped[group] = true
          to_the_end(group)
        else
          local n = take(group_lane(plain_lane, group), allowed)
          if n > 0 then
            got, served = got + n, served + n
            group_took(group, n)
          end
          if n == allowed then
            to_the_end(group)
          else
            -- Its lane ran out of ready work: out of the rotation (an empty group lane is no key).
            redis.call('ZREM', rotation, group)
          end
        end
      end
      if stopped then break end
    end
    write_turns()
    if served == 0 then break end
  end
  if redis.call('ZCARD', rotation) == 0 then
    redis.call('DEL', rotation)
    redis.call('HDEL', ROTATIONS, plain_lane)
  elseif counter ~= first_counter then
    redis.call('HSET', ROTATIONS, plain_lane, counter)
  end
  return got
end

-- Moves the ready tasks of the old layout's group streams (GROUP_LANES, lib/common.lua) into their group lanes and
-- deletes the streams: once, in the first claim that serves a rotation after an upgrade. Per stream, its reclaimed
-- tasks (pending for FRONT_CONSUMER) go first and its undelivered ones next, each in stream order, and both ahead
-- of what this version pushed to the lane since; a task leased from the stream keeps its lease and loses its entry
-- (sid ''), so its lease ends like a group lane task's (a reclaim gives it a new place). An entry whose task moved
-- on (not ready, or another sid) is dropped with its stream.
local function migrate_group_streams()
  for _, lane in ipairs(redis.call('SMEMBERS', GROUP_LANES)) do
    local stream = ready_key(lane)
    if redis.call('EXISTS', stream) == 1 then
      local reclaimed = {}
      local last = '-'
      while true do
        local pending = redis.call('XPENDING', stream, GROUP, last, '+', 1000, FRONT_CONSUMER)
        for _, p in ipairs(pending) do reclaimed[p[1]] = true end
        if #pending < 1000 then break end
        last = '(' .. pending[#pending][1]
      end
      local zset = group_ready_key(lane)
      last = '-'
      while true do
        local entries = redis.call('XRANGE', stream, last, '+', 'COUNT', 1000)
        for _, entry in ipairs(entries) do
          local sid, id = entry[1], entry[2][2]
          local key = task_key(id)
          local t = redis.call('HMGET', key, 'state', 'sid')
          if t[2] == sid then
            if t[1] == 'ready' then
              local seq = redis.call('INCR', LANE_SEQ)
              local ahead = 2 * RECLAIMED
              if reclaimed[sid] then ahead = 3 * RECLAIMED end
              redis.call('ZADD', zset, seq - ahead, id)
              redis.call('HSET', key, 'sid', 'g' .. seq)
            else
              redis.call('HSET', key, 'sid', '')
            end
          end
        end
        if #entries < 1000 then break end
        last = '(' .. entries[#entries][1]
      end
    end
    redis.call('DEL', stream)
    redis.call('HDEL', FRONT, lane)
  end
  redis.call('DEL', GROUP_LANES)
end
