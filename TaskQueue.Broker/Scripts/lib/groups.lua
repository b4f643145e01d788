-- Groups: the claim's round-robin over the groups of one priority and task type, and the group limits. Spliced in
-- after lib/common.lua and lib/flow.lua where claim.lua says `--!include lib/groups.lua`.
-- Round-robin: the lanes of one priority and type that may hold ready work take turns in their rotation
-- (rotation_key, lib/common.lua): a claim serves one task from the group with the lowest turn, gives it the next
-- turn (the rotation's counter in ROTATIONS), and so on, so a group's backlog cannot starve another group. A group
-- whose lane is empty leaves the rotation (and its lane is deleted once no entry is left); the lane without a
-- group takes part as the group '' (a claim puts it back in at turn 0 while that lane exists).
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

local function limits_of(group)
  if not group_defaults then
    local d = redis.call('HMGET', FLOW, 'group_concurrency', 'group_rate', 'group_burst')
    group_defaults = { d[1], d[2], d[3], redis.call('EXISTS', FLOW_GROUPS) == 1 }
  end
  local c, r, b = group_defaults[1], group_defaults[2], group_defaults[3]
  if group_defaults[4] then
    local override = redis.call('HGET', FLOW_GROUPS, group)
    if override then
      local oc, orate, ob = string.match(override, '^(%S+) (%S+) (%S+)$')
      if oc and oc ~= '-' then c = oc end
      if orate and orate ~= '-' then r = orate end
      if ob and ob ~= '-' then b = ob end
    end
  end
  return limit_value(c), limit_value(r), math.max(1, limit_value(b) or 1)
end

-- The tokens in a group's bucket at `now` (refilled at `r` a second since it was last written, up to `b`).
local function group_tokens(group, r, b, now)
  local bucket = redis.call('GET', group_bucket_key(group))
  if not bucket then return b end
  local tokens, at = string.match(bucket, '^(%S+) (%S+)$')
  return bucket_tokens(tonumber(tokens), tonumber(at), r, b, now) -- lib/flow.lua's refill, the queue bucket's rule
end

-- How many of `n` more tasks `group` may lease now; records the hold when none.
local function group_allowance(group, now, n)
  if group == '' then return n end
  local st = group_state[group]
  if not st then
    local c, r, b = limits_of(group)
    st = { c = c, r = r, b = b, taken = 0 }
    if c then st.leased = tonumber(redis.call('HGET', GROUP_LEASED, group)) or 0 end
    if r then st.tokens = group_tokens(group, r, b, now) end
    group_state[group] = st
  end
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
  if st.c then st.leased = st.leased + n end
  if st.r then st.tokens = st.tokens - n end
end

-- Writes what the call's leases did to the groups: their lease counts and buckets.
local function save_groups(now)
  for group, st in pairs(group_state) do
    if st.taken > 0 then
      redis.call('HINCRBY', GROUP_LEASED, group, st.taken)
      if st.r then
        local full_in = math.max(1, math.ceil((st.b - st.tokens) * 1000 / st.r))
        redis.call('SET', group_bucket_key(group), string.format('%.6f %d', st.tokens, now), 'PX', full_in)
      end
    end
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
local function serve_rotation(plain_lane, plain_exists, want, now, take)
  local rotation = rotation_key(plain_lane)
  if plain_exists then redis.call('ZADD', rotation, 'NX', 0, '') end
  local got, skipped = 0, {}
  local function to_the_end(group)
    redis.call('ZADD', rotation, redis.call('HINCRBY', ROTATIONS, plain_lane, 1), group)
  end
  while got < want do
    -- One round: every group whose turn was given before the round began, lowest turn first (a group served
    -- or skipped in the round gets a later turn, so it waits for the next round).
    local round_end = tonumber(redis.call('HGET', ROTATIONS, plain_lane)) or 0
    local share = math.max(1, math.floor((want - got) / math.max(1, redis.call('ZCARD', rotation))))
    local cursor, served = '-inf', 0
    while got < want do
      local page = redis.call('ZRANGE', rotation, cursor, round_end, 'BYSCORE', 'LIMIT', 0, 64, 'WITHSCORES')
      if #page == 0 then break end
      for i = 1, #page, 2 do
        if got >= want then break end
        local group = page[i]
        cursor = '(' .. page[i + 1]
        group_visits = group_visits + 1
        if group_visits > MAX_GROUP_VISITS then
          hold_for(1)
          return got
        end
        local allowed = 0
        if not skipped[group] then allowed = group_allowance(group, now, math.min(share, want - got)) end
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
            -- Its lane ran out of ready work: out of the rotation (and the lane goes once empty).
            redis.call('ZREM', rotation, group)
            if group ~= '' then retire_group_lane(group_lane(plain_lane, group), group, plain_lane) end
          end
        end
      end
    end
    if served == 0 then break end
  end
  if redis.call('ZCARD', rotation) == 0 then
    redis.call('DEL', rotation)
    redis.call('HDEL', ROTATIONS, plain_lane)
  end
  return got
end
