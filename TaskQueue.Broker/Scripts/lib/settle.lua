-- Ends failed attempts of leased tasks (a worker's failure reports, or expired leases). Needs lib/common.lua and
-- lib/flow.lua (an ended lease wakes claims a concurrency limit held back: wake_held).
-- The writes every settlement of a call shares (lease removals, stream acks, scheduled adds, counters,
-- the ready wake-up) go into a batch and are written once by flush_failures, not once per task.
-- `policy` = { retention_ms, dead_max, dead_age_ms, schedule = {ms, ...}, jitter }.
-- Every failed attempt settled here is appended to the task's attempt history (attempts_key, lib/common.lua):
-- only these failure paths write it, so a completion costs nothing more.

-- The fields settle_failure needs, in this order, for one HMGET by the caller.
local FAILURE_FIELDS = { 'attempt', 'max', 'cancel', 'prio', 'sid', 'type', 'lane', 'worker' }

-- The most failed attempts a task's history keeps, the newest (Storage/RedisKeys.cs AttemptHistoryCap).
local ATTEMPT_HISTORY_CAP = 20

-- Appends one failed attempt (`t` holds FAILURE_FIELDS from index `at`) with what came of it: 'reclaimed'
-- (ready again at once after a lost lease), 'retrying', 'dead-lettered' or 'cancelled'. The error is the one
-- stored as the task's last error (cut by the broker as that is).
local function record_attempt(id, key, t, at, now, err, outcome)
  local history = attempts_key(id)
  redis.call('RPUSH', history, cjson.encode({
    attempt = tonumber(t[at]) or 0, error = err, worker = t[at + 7] or '', finished_at = now, outcome = outcome,
  }))
  redis.call('LTRIM', history, -ATTEMPT_HISTORY_CAP, -1)
  redis.call('HSET', key, 'hist', '1')
end

local function new_failure_batch()
  return { leases = {}, entries = {}, scheduled = {}, lanes = {}, front = {}, failed = 0, retried = 0, ready = 0 }
end

-- A crashed worker's attempt (its lease ran out: reap.lua) is not the task's failure: the task is ready again
-- at once, without a backoff, ahead of newer work in its lane. In a lane without a group its stream entry stays
-- (the same sid, so every reader of it still finds the task) and moves to the group's consumer FRONT_CONSUMER,
-- which claim.lua reads before the lane's new entries; in a group lane it goes back at its reclaimed score
-- (lib/common.lua reclaim_to_group_lane), and a task leased from an old layout's group stream loses that entry.
-- The attempt still counts. Returns RETRYING, or nil when settle_failure decides instead (cancel requested,
-- attempts used up, no entry to keep).
local function settle_crash(batch, id, key, t, at, now, err)
  local attempt, max = tonumber(t[at]) or 0, tonumber(t[at + 1]) or 1
  local sid = t[at + 4]
  if t[at + 2] == '1' or attempt >= max then return nil end
  local lane = task_lane(t[at + 6], t[at + 3])
  if string.find(lane, GROUP_MARK, 1, true) then
    if sid and sid ~= '' and not is_group_entry(sid) then
      redis.call('XACK', ready_key(lane), GROUP, sid)
      redis.call('XDEL', ready_key(lane), sid)
      delete_group_lane_if_empty(lane)
    end
    sid = reclaim_to_group_lane(id, lane, sid)
  else
    if not sid or sid == '' then return nil end
    if #redis.call('XCLAIM', ready_key(lane), GROUP, FRONT_CONSUMER, 0, sid, 'JUSTID') == 0 then return nil end
    batch.front[lane] = true
  end
  batch.leases[#batch.leases + 1] = id
  end_group_lease(lane, nil)
  open_lane(lane) -- a group lane's group is back in its rotation
  batch.failed, batch.retried, batch.ready = batch.failed + 1, batch.retried + 1, batch.ready + 1
  record_attempt(id, key, t, at, now, err, 'reclaimed')
  redis.call('HSET', key, 'error', err, 'token', '', 'worker', '', 'state', 'ready', 'sid', sid, 'enqueued', now)
  notify_changed(id, false)
  return RETRYING
end

-- `t` holds FAILURE_FIELDS from index `at`. Returns RETRYING, DEAD_LETTERED or CANCELLED.
local function settle_failure(batch, id, key, t, at, now, err, retryable, unit_random, policy)
  local attempt = tonumber(t[at]) or 0
  local max = tonumber(t[at + 1]) or 1
  local priority, sid = t[at + 3], t[at + 4]
  batch.leases[#batch.leases + 1] = id
  end_group_lease(t[at + 6], sid)
  add_stream_entry(batch.entries, t[at + 6], priority, sid)
  batch.failed = batch.failed + 1
  if t[at + 2] == '1' then
    record_attempt(id, key, t, at, now, err, 'cancelled')
    redis.call('HSET', key, 'error', err, 'token', '', 'worker', '', 'sid', '')
    finish(id, key, 'cancelled', now, policy.retention_ms, 'cancelled')
    return CANCELLED
  end
  if retryable and attempt < max then
    record_attempt(id, key, t, at, now, err, 'retrying')
    local schedule = policy.schedule
    local delay = schedule[math.min(math.max(attempt, 1), #schedule)]
    delay = math.floor(delay * (1 - policy.jitter * unit_random))
    batch.retried = batch.retried + 1
    if delay <= 0 then
      -- No backoff: ready again at once (in its own type's lane), without a detour through the scheduled
      -- set and the promoter.
      local lane = lane_of(priority, t[at + 5], (lane_group(t[at + 6] or '')))
      if not batch.lanes[lane] then
        batch.lanes[lane] = true
        open_lane(lane)
      end
      local entry = add_to_open_lane(id, lane)
      redis.call('HSET', key, 'error', err, 'token', '', 'worker', '', 'state', 'ready', 'sid', entry, 'lane', lane, 'enqueued', now)
      batch.ready = batch.ready + 1
    else
      redis.call('HSET', key, 'error', err, 'token', '', 'worker', '', 'sid', '', 'state', 'scheduled', 'due', now + delay)
      batch.scheduled[#batch.scheduled + 1] = now + delay
      batch.scheduled[#batch.scheduled + 1] = id
      batch.due = math.min(batch.due or (now + delay), now + delay)
    end
    notify_changed(id, false)
    return RETRYING
  end
  record_attempt(id, key, t, at, now, err, 'dead-lettered')
  redis.call('HSET', key, 'error', err, 'token', '', 'worker', '', 'sid', '', 'state', 'dead', 'finished', now)
  local keys = redis.call('HMGET', key, 'ukey', 'dkey')
  release_keys(id, keys[1], keys[2])
  redis.call('ZADD', DEAD, now, id)
  redis.call('HINCRBY', STATS, 'dead', 1)
  notify_finished(id)
  notify_changed(id, true)
  trim_dead(now, policy.dead_max, policy.dead_age_ms)
  batch.due = math.min(batch.due or math.huge, now + tonumber(policy.dead_age_ms))
  return DEAD_LETTERED
end

-- Writes what the batch's settlements share; wakes every broker's dispatchers when work is ready again; marks
-- the queue due when the earliest retry or dead letter of the batch needs a visit; wakes claims held until a
-- lease ends when the batch ended any.
local function flush_failures(batch)
  if #batch.leases > 0 then wake_held() end
  if batch.due then mark_due(batch.due) end
  drop_settled(batch.leases, batch.entries)
  for lane in pairs(batch.front) do redis.call('HSET', FRONT, lane, '1') end
  for i = 1, #batch.scheduled, 1000 do
    redis.call('ZADD', SCHEDULED, unpack(batch.scheduled, i, math.min(i + 999, #batch.scheduled)))
  end
  if batch.failed > 0 then redis.call('HINCRBY', STATS, 'failed', batch.failed) end
  if batch.retried > 0 then redis.call('HINCRBY', STATS, 'retried', batch.retried) end
  if batch.ready > 0 then redis.call('PUBLISH', READY_CHANNEL, QUEUE) end
end
