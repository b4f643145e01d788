-- Shared by every script (spliced in where a script says `--!include lib/common.lua`).
-- KEYS[1] is always the queue's key prefix, "tq:{queue}:"; every key below hangs off it, so a script
-- touches one Redis Cluster slot. KEYS[2..4] are the queue's due index, registry and schedule index
-- (Storage/RedisKeySpace.cs): the global ones on a single Redis, its slot's own in a Redis Cluster, where they
-- share the queue's slot. Key names must match Storage/RedisKeys.cs.
--
-- A task's hash (task_key(id)) has these fields; Storage/TaskFields.cs names the same ones (a unit test
-- compares the two lists). The scripts spell them as literals, as Redis receives them:
--   state     ready | scheduled | leased | completed | dead | cancelled | expired
--   token     the current lease's token ('' when not leased)
--   sid       the task's entry in its ready stream, or 'g<seq>' for a task of a group lane (its order there: its
--             place while ready, kept while leased so a reclaim puts it back in order), '' when it has none
--   prio      its priority level
--   attempt   attempts started so far
--   worker    the worker holding the lease ('' when none)
--   ikey      its idempotency key ('' when none)
--   expires   ms after which it is dropped unstarted (0: never)
--   type      the handler's task type
--   max       the most attempts it gets
--   timeout   its execution timeout in ms (0: none)
--   tp        W3C traceparent of the submit
--   ts        W3C tracestate of the submit
--   cancel    '1' once a cancel was asked for while it ran
--   created   ms when it was submitted
--   due       ms when it is (or was) due to run
--   id        its id within the queue
--   queue     its queue's name
--   payload   the handler's input
--   enqueued  ms when it last entered a ready stream
--   started   ms when its current or last attempt was leased
--   finished  ms when it reached a final state
--   result    the handler's output, once completed
--   error     the last attempt's error
--   lane      its ready stream's lane, "<prio>:<type>" (missing on tasks stored before lanes: theirs is "<prio>")
--   progress  the last progress percent (0..100) a lease holder reported
--   pmsg      its status line
--   pat       ms when it was stored
--   checkpoint the last checkpoint a lease holder stored (the next attempt receives it)
--   ukey      its unique key (absent when none): held in uniq_key(ukey) while the task is not final
--   dkey      its debounce key (absent when none): debounce_key(dkey) names the task until it is final
--   group     its group (absent when none: the group ''), the key of claim.lua's round-robin and of the group limits
--   hist      '1' once a failed attempt was recorded in attempts_key(id) (absent: no history to expire or delete)
--
-- Ready work lives in lanes: one stream per priority and task type, "ready:<prio>:<type>", so a worker
-- reads only the lanes of the types it handles. LEVELS is the set of lanes that ever held work. A lane
-- named by its priority alone ("ready:<prio>", the layout before lanes) holds work of any type: every
-- worker reads it, a worker that does not handle a task found there moves it to its own lane, and the
-- first claim that finds it empty deletes it (claim.lua).
-- A task with a group waits in its group's lane, "<prio>:<type>" .. GROUP_MARK .. "<group>" (a control character:
-- neither types nor groups hold one). A group lane is no stream: it is a sorted set of task ids,
-- group_ready_key(lane), because a claim across many groups visits many lanes and a stream costs per visit (an
-- XREADGROUP of its own, then an XACK and XDEL when the lease ends), a sorted set one ZPOPMIN and nothing at the
-- lease's end. A task's score is its order: a number from the queue's counter LANE_SEQ, given when it enters the
-- lane and kept in its sid ('g<seq>'); a crashed worker's reclaimed task goes back at seq - RECLAIMED, ahead of
-- every new one, the reclaimed ones in their old order (as a stream's reclaimed entries). The task hash holds
-- everything an assignment needs, so the lane holds ids only; a claim pops, a cancel removes (ZREM), Explain
-- counts ahead (ZRANK) and List pages by score. An empty lane is no key. Group lanes are not in LEVELS (a claim
-- reads that set whole): the lanes of one priority and type that may hold ready work take turns in a rotation
-- (lib/groups.lua): ROTATIONS, a hash "<prio>:<type>" -> its turn counter, while rotation_key("<prio>:<type>"), a
-- sorted set group -> turn, holds a group ('' stands for the lane without a group). A group lane joins its
-- rotation whenever work is pushed to it and leaves it when a claim finds it empty, so every group lane holding
-- ready work has its group in its rotation: the readers (stats, list, the idle check) find the lanes there.
-- The layout before this one kept a group lane in a stream (ready_key(lane), with a consumer group like a lane
-- without a group) and the streams that exist in GROUP_LANES. A broker of this version serves them: the first
-- claim that serves a rotation while GROUP_LANES exists moves their ready tasks into the sorted sets, oldest
-- reclaimed first, then the rest in stream order, ahead of what was pushed since (migrate_group_streams), and
-- deletes the streams; a lease of a task from such a stream ends like any other (its stream entry, if the stream
-- still exists, is dropped as before).
local base = KEYS[1]
local LEASES = base .. 'leases'
local SCHEDULED = base .. 'scheduled'
local DEAD = base .. 'dead'
local LEVELS = base .. 'levels'
local STATS = base .. 'stats'
local WAITERS = base .. 'waiters'
local WATCHERS = base .. 'watchers' -- a hash: task id -> open Watch calls on it
-- A hash: lane -> '1' while the lane may hold reclaimed entries (a crashed worker's tasks, reap.lua), which wait
-- as pending entries of the consumer FRONT_CONSUMER, ahead of the lane's new entries (claim.lua reads them first).
local FRONT = base .. 'front'
local TURN = base .. 'turn' -- a counter: which overdue lane a claim serves first (claim.lua's rotation)
local GROUP_LANES = base .. 'glanes' -- a set: the old layout's group lanes whose streams exist (see above)
local LANE_SEQ = base .. 'lane:seq' -- a counter: the order of tasks entering group lanes (their scores)
local RECLAIMED = 2 ^ 50 -- a reclaimed task's score is its seq minus this: ahead of every task not reclaimed
local ROTATIONS = base .. 'rotations' -- a hash: "<prio>:<type>" -> its rotation's turn counter
local GROUP_LEASED = base .. 'group:leased' -- a hash: group -> its tasks leased now (no field: none)
local GROUP_MARK = '\31'
local FINISHED_CHANNEL = 'tq:finished'
local CHANGED_CHANNEL = 'tq:changed'
local READY_CHANNEL = 'tq:ready' -- its messages are queue names: KEYS[1] is "tq:{" .. queue .. "}:"
local QUEUE = string.sub(base, 5, -3)
local GROUP = 'tq'
-- The two keys outside the queue's prefix, passed by the broker (Storage/RedisKeySpace.cs): the registry of live queues
-- ('tq:queues', or its slot's 'tq:queues:{tag}' in a cluster), and the due index ('tq:due' or 'tq:due:{tag}'), queue
-- name -> the earliest ms at which something in the queue may fall due (a lower bound: lib/due.lua's visit sets the
-- true time). The background loops visit only the queues whose time has come.
local DUE = KEYS[2]
local QUEUES = KEYS[3]

-- Return codes, shared by every script; Storage/ScriptCodes.cs maps them to results in one place.
local OK, STALE, MISSING = 1, 0, -1
local RETRYING, DEAD_LETTERED, CANCELLED, CANCEL_REQUESTED, ALREADY_FINISHED = 2, 3, 4, 5, 6
local TIMED_OUT = 7
local CONSUMER = 'leased'
local FRONT_CONSUMER = 'front'

local function task_key(id) return base .. 't:' .. id end
-- A task's failed attempts, oldest first (a list of JSON objects, lib/settle.lua's record_attempt): kept, expired
-- and deleted with the task's hash wherever the hash is.
local function attempts_key(id) return base .. 'attempts:' .. id end
-- A lane's stream; `lane` is "<prio>:<type>" (lane_of), or a bare priority for a stream of the old layout.
local function ready_key(lane) return base .. 'ready:' .. lane end
-- The lane of a priority, type and group ('' or nil: the lane without a group).
local function lane_of(priority, type, group)
  if group and group ~= '' then return priority .. ':' .. type .. GROUP_MARK .. group end
  return priority .. ':' .. type
end
-- A lane's group ('' for a lane without one) and the lane of its priority and type without a group.
local function lane_group(lane)
  local at = string.find(lane, GROUP_MARK, 1, true)
  if at then return string.sub(lane, at + 1), string.sub(lane, 1, at - 1) end
  return '', lane
end
local function rotation_key(plain_lane) return base .. 'rotation:' .. plain_lane end
-- A group lane's sorted set of ready task ids (see above).
local function group_ready_key(lane) return base .. 'gready:' .. lane end
-- Whether a task's sid names its place in a group lane's sorted set ('g<seq>'), and that place's score.
local function is_group_entry(sid) return sid ~= nil and sid ~= false and string.byte(sid, 1) == 103 end
local function group_entry_seq(sid) return tonumber(string.sub(sid, 2)) end
-- The lane a task's stream entry is in, from its 'lane' and 'prio' fields (no lane: stored before lanes).
local function task_lane(lane, priority)
  if lane then return lane end
  return priority
end
-- A lane's priority, task type (nil: the old layout's lane of every type) and group ('' when none).
local function parse_lane(lane)
  local group, plain = lane_group(lane)
  local priority, type = string.match(plain, '^(%d+):(.*)$')
  if priority then return tonumber(priority), type, group end
  return tonumber(lane), nil, ''
end
local function idem_key(key) return base .. 'idem:' .. key end
local function uniq_key(key) return base .. 'uniq:' .. key end
local function debounce_key(key) return base .. 'debounce:' .. key end
-- Retained finished tasks of one final state (completed | cancelled | expired), scored by finish time: the
-- listing's index, trimmed by the retention whenever a task joins it (and expiring with its newest entry).
local function finished_key(state) return base .. 'finished:' .. state end

-- Time comes from Redis, never from a broker's clock. `shift` (ms) is zero outside tests.
local function now_ms(shift)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(shift)
end

-- Marks the queue due at `ms` unless it is due earlier already (ZADD LT keeps the earliest): every script that
-- creates a lease, scheduled work or a dead letter calls it, so the reaper and the promoter come in time.
local function mark_due(ms) redis.call('ZADD', DUE, 'LT', ms, QUEUE) end

-- A group lane may hold ready work: its group is in its rotation.
local function group_lane_ready(lane, group, plain_lane)
  local rotation = rotation_key(plain_lane)
  if not redis.call('ZSCORE', rotation, group) then
    redis.call('ZADD', rotation, redis.call('HINCRBY', ROTATIONS, plain_lane, 1), group)
  end
end

-- Makes sure a lane can take entries: a lane without a group is in LEVELS (its stream created the first time), a
-- group lane's group in its rotation.
local function open_lane(lane)
  local group, plain_lane = lane_group(lane)
  if group ~= '' then
    group_lane_ready(lane, group, plain_lane)
  elseif redis.call('SADD', LEVELS, lane) == 1 then
    redis.call('XGROUP', 'CREATE', ready_key(lane), GROUP, '0', 'MKSTREAM')
  end
end

-- Adds a ready task at the end of a lane whose lane is open (open_lane): an entry of the lane's stream, or its
-- next place in a group lane; returns what its sid becomes.
local function add_to_open_lane(id, lane)
  if string.find(lane, GROUP_MARK, 1, true) then
    local seq = redis.call('INCR', LANE_SEQ)
    redis.call('ZADD', group_ready_key(lane), seq, id)
    return 'g' .. seq
  end
  return redis.call('XADD', ready_key(lane), '*', 'id', id)
end

-- Adds a ready task at the end of a lane (creating the lane the first time); returns what its sid becomes.
local function append_to_lane(id, lane)
  open_lane(lane)
  return add_to_open_lane(id, lane)
end

-- Puts a crashed worker's task back into its group lane, ahead of the tasks not reclaimed, in its old order.
local function reclaim_to_group_lane(id, lane, sid)
  local seq = is_group_entry(sid) and group_entry_seq(sid)
  if not seq then
    seq = redis.call('INCR', LANE_SEQ)
    sid = 'g' .. seq
  end
  redis.call('ZADD', group_ready_key(lane), seq - RECLAIMED, id)
  return sid
end

-- Deletes an old layout's group stream once it holds no entry.
local function delete_group_lane_if_empty(lane)
  if redis.call('XLEN', ready_key(lane)) == 0 then
    redis.call('DEL', ready_key(lane))
    redis.call('SREM', GROUP_LANES, lane)
    redis.call('HDEL', FRONT, lane)
  end
end

-- A lease of a task in `lane` ended (completed, failed, reclaimed or handed back): its group counts one less, so
-- a lease end costs one HINCRBY, plus an HDEL when it was its group's last. A group lane's task has no entry to
-- drop; a task leased from an old layout's group stream (`sid` a stream id) whose group's last lease this was, while
-- the group is out of its rotation, has its entry dropped now and the stream deleted if that emptied it.
local function end_group_lease(lane, sid)
  if not lane then return end
  local group, plain_lane = lane_group(lane)
  if group == '' then return end
  local left = redis.call('HINCRBY', GROUP_LEASED, group, -1)
  if left > 0 then return end
  redis.call('HDEL', GROUP_LEASED, group)
  if sid and sid ~= '' and not is_group_entry(sid) and not redis.call('ZSCORE', rotation_key(plain_lane), group) then
    redis.call('XACK', ready_key(lane), GROUP, sid)
    redis.call('XDEL', ready_key(lane), sid)
    delete_group_lane_if_empty(lane)
  end
end

-- Ends the leases of a call's tasks from group lanes at once (`ended`: group -> leases ended), as end_group_lease
-- would one by one: one HMGET of their counts, one HSET of the counts left and one HDEL of those at zero per 1000
-- groups, instead of an HINCRBY (and an HDEL) per task. (A task leased from an old layout's group stream goes
-- through end_group_lease: its entry may have to go.)
local function end_group_leases(ended)
  local groups = {}
  for group in pairs(ended) do groups[#groups + 1] = group end
  local left, zero = {}, {}
  for i = 1, #groups, 1000 do
    local last = math.min(i + 999, #groups)
    local counts = redis.call('HMGET', GROUP_LEASED, unpack(groups, i, last))
    for j = i, last do
      local group = groups[j]
      local n = (tonumber(counts[j - i + 1]) or 0) - ended[group]
      if n > 0 then
        left[#left + 1] = group
        left[#left + 1] = n
      else
        zero[#zero + 1] = group
      end
    end
  end
  for i = 1, #left, 1000 do redis.call('HSET', GROUP_LEASED, unpack(left, i, math.min(i + 999, #left))) end
  for i = 1, #zero, 1000 do redis.call('HDEL', GROUP_LEASED, unpack(zero, i, math.min(i + 999, #zero))) end
end

-- Appends the task to its lane's ready stream and records where its entry lives.
local function push_ready(id, key, priority, type, now, group)
  local lane = lane_of(priority, type, group)
  local sid = append_to_lane(id, lane)
  redis.call('HSET', key, 'state', 'ready', 'sid', sid, 'lane', lane, 'enqueued', now)
  return sid
end

-- Acknowledges and deletes the task's stream entry (XDEL alone is safe for undelivered entries too), or takes it
-- out of its group lane.
local function drop_stream_entry(key)
  local entry = redis.call('HMGET', key, 'prio', 'sid', 'lane', 'id')
  if is_group_entry(entry[2]) then
    redis.call('ZREM', group_ready_key(entry[3]), entry[4])
    redis.call('HSET', key, 'sid', '')
  elseif entry[2] and entry[2] ~= '' then
    local stream = ready_key(task_lane(entry[3], entry[1]))
    redis.call('XACK', stream, GROUP, entry[2])
    redis.call('XDEL', stream, entry[2])
    redis.call('HSET', key, 'sid', '')
  end
end

-- The lease deadlines of `ids` (nil where none), one ZMSCORE per 1000: batch scripts read them all before
-- settling any task, so a task named twice in one call is judged by its state, not a deadline read late.
local function lease_deadlines(ids)
  local deadlines = {}
  for i = 1, #ids, 1000 do
    local scores = redis.call('ZMSCORE', LEASES, unpack(ids, i, math.min(i + 999, #ids)))
    for j = 1, #scores do deadlines[i + j - 1] = scores[j] end
  end
  return deadlines
end

-- Removes the leases of `ids` and acknowledges and deletes the stream entries in `entries`
-- ({stream = {entry id, ...}}), 1000 per command: the batched half of settling many tasks. (A group lane's task
-- has no entry to drop: callers leave it out, add_stream_entry.)
local function drop_settled(ids, entries)
  for i = 1, #ids, 1000 do
    redis.call('ZREM', LEASES, unpack(ids, i, math.min(i + 999, #ids)))
  end
  for stream, sids in pairs(entries) do
    for i = 1, #sids, 1000 do
      local last = math.min(i + 999, #sids)
      redis.call('XACK', stream, GROUP, unpack(sids, i, last))
      redis.call('XDEL', stream, unpack(sids, i, last))
    end
  end
end

-- Adds a settled task's stream entry to a batch's `entries` (drop_settled); a group lane's task has none.
local function add_stream_entry(entries, lane, priority, sid)
  if sid and sid ~= '' and not is_group_entry(sid) then
    local stream = ready_key(task_lane(lane, priority))
    entries[stream] = entries[stream] or {}
    table.insert(entries[stream], sid)
  end
end

-- The group lanes of a queue that may hold ready work (every one that does: its group is in its rotation), and
-- the old layout's group streams that still exist: {lanes}, {streams' lanes}.
local function group_lanes()
  local lanes = {}
  for _, plain_lane in ipairs(redis.call('HKEYS', ROTATIONS)) do
    for _, group in ipairs(redis.call('ZRANGE', rotation_key(plain_lane), 0, -1)) do
      if group ~= '' then lanes[#lanes + 1] = plain_lane .. GROUP_MARK .. group end
    end
  end
  return lanes, redis.call('SMEMBERS', GROUP_LANES)
end

-- Tells brokers waiting on a task (TaskService.Wait) that it reached a final state. Only tasks someone
-- waits on are published, so the hot path pays one SREM per finished task at most.
local function notify_finished(id)
  if redis.call('SREM', WAITERS, id) == 1 then
    redis.call('PUBLISH', FINISHED_CHANNEL, base .. id)
  end
end

-- Tells brokers watching a task (TaskService.Watch) that its state or progress changed. Whether the queue
-- has any watched task is read once per script call: an unwatched queue pays one EXISTS per call, not per
-- task. `final`: the task will not change again, so its entry goes (a watch that is still open ends on it).
local queue_watched = nil
local function notify_changed(id, final)
  if queue_watched == nil then queue_watched = redis.call('EXISTS', WATCHERS) == 1 end
  if not queue_watched then return end
  local watched
  if final then watched = redis.call('HDEL', WATCHERS, id) == 1 else watched = redis.call('HEXISTS', WATCHERS, id) == 1 end
  if watched then redis.call('PUBLISH', CHANGED_CHANNEL, base .. id) end
end

-- Frees the unique and debounce keys a task reaching a final state still holds (a key another task took
-- over is left alone). Costs nothing for a task without them (both nil).
local function release_keys(id, ukey, dkey)
  if ukey and ukey ~= '' and redis.call('GET', uniq_key(ukey)) == id then redis.call('DEL', uniq_key(ukey)) end
  if dkey and dkey ~= '' and redis.call('GET', debounce_key(dkey)) == id then redis.call('DEL', debounce_key(dkey)) end
end

-- Adds finished tasks ({score, id, ...}) to their state's index and drops the entries past the retention. The
-- index itself expires a retention after its newest entry, so a queue that stops finishing tasks keeps none.
local function index_finished(state, entries, now, retention_ms)
  local index = finished_key(state)
  for i = 1, #entries, 1000 do
    redis.call('ZADD', index, unpack(entries, i, math.min(i + 999, #entries)))
  end
  redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. string.format('%d', now - tonumber(retention_ms)))
  redis.call('PEXPIRE', index, retention_ms)
end

-- Moves a task to a final state and starts its retention clock (its idempotency key expires with it; its
-- unique and debounce keys are freed at once).
local function finish(id, key, state, now, retention_ms, counter)
  notify_finished(id)
  notify_changed(id, true)
  redis.call('HSET', key, 'state', state, 'finished', now)
  redis.call('HINCRBY', STATS, counter, 1)
  local keys = redis.call('HMGET', key, 'ikey', 'ukey', 'dkey')
  local ikey = keys[1]
  release_keys(id, keys[2], keys[3])
  if tonumber(retention_ms) > 0 then
    redis.call('PEXPIRE', key, retention_ms)
    if ikey and ikey ~= '' then redis.call('PEXPIRE', idem_key(ikey), retention_ms) end
    redis.call('PEXPIRE', attempts_key(id), retention_ms)
    index_finished(state, { now, id }, now, retention_ms)
  else
    redis.call('DEL', key, attempts_key(id))
    if ikey and ikey ~= '' then redis.call('DEL', idem_key(ikey)) end
  end
end

-- Deletes a dead letter for good (trim or purge).
local function delete_dead(id)
  local key = task_key(id)
  local ikey = redis.call('HGET', key, 'ikey')
  if ikey and ikey ~= '' then redis.call('DEL', idem_key(ikey)) end
  redis.call('DEL', key, attempts_key(id))
  redis.call('ZREM', DEAD, id)
end

-- Keeps the dead-letter queue within its age and count bounds.
local function trim_dead(now, max_count, max_age_ms)
  local old = redis.call('ZRANGEBYSCORE', DEAD, '-inf', now - tonumber(max_age_ms), 'LIMIT', 0, 1000)
  for _, id in ipairs(old) do delete_dead(id) end
  local excess = redis.call('ZCARD', DEAD) - tonumber(max_count)
  if excess > 0 then
    local oldest = redis.call('ZRANGE', DEAD, 0, excess - 1)
    for _, id in ipairs(oldest) do delete_dead(id) end
  end
end

-- Fencing: a report counts only from the current lease holder, before its deadline.
-- Returns OK, STALE (expired, moved on, or not leased) or MISSING (no such task).
local function check_lease(id, key, token, now)
  local t = redis.call('HMGET', key, 'state', 'token')
  if not t[1] then return MISSING end
  if t[1] ~= 'leased' or t[2] ~= token then return STALE end
  local deadline = redis.call('ZSCORE', LEASES, id)
  if not deadline or tonumber(deadline) < now then return STALE end
  return OK
end

-- Backoff delays in ms for attempts 1, 2, ... (the last repeats); computed by Storage/BackoffPolicy.cs.
local function parse_schedule(text)
  local schedule = {}
  for ms in string.gmatch(text, '[^,]+') do schedule[#schedule + 1] = tonumber(ms) end
  return schedule
end

-- Reads the failure policy that fail.lua and reap.lua receive as ARGV[first..first+4].
local function read_policy(first)
  return {
    retention_ms = ARGV[first],
    dead_max = ARGV[first + 1],
    dead_age_ms = ARGV[first + 2],
    schedule = parse_schedule(ARGV[first + 3]),
    jitter = tonumber(ARGV[first + 4]),
  }
end
