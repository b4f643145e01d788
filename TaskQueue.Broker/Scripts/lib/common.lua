-- Shared by every script (spliced in where a script says `--!include lib/common.lua`).
-- KEYS[1] is always the queue's key prefix, "tq:{queue}:"; every key below hangs off it, so a script
-- touches one Redis Cluster slot. Key names must match Storage/RedisKeys.cs.
--
-- A task's hash (task_key(id)) has these fields; Storage/TaskFields.cs names the same ones (a unit test
-- compares the two lists). The scripts spell them as literals, as Redis receives them:
--   state     ready | scheduled | leased | completed | dead | cancelled | expired
--   token     the current lease's token ('' when not leased)
--   sid       the task's entry in its ready stream ('' when it has none)
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
--
-- Ready work lives in lanes: one stream per priority and task type, "ready:<prio>:<type>", so a worker
-- reads only the lanes of the types it handles. LEVELS is the set of lanes that ever held work. A lane
-- named by its priority alone ("ready:<prio>", the layout before lanes) holds work of any type: every
-- worker reads it, a worker that does not handle a task found there moves it to its own lane, and the
-- first claim that finds it empty deletes it (claim.lua).
-- A task with a group waits in its group's lane, "<prio>:<type>" .. GROUP_MARK .. "<group>" (a control character:
-- neither types nor groups hold one). Group lanes are not in LEVELS (a claim reads that set whole): GROUP_LANES
-- holds the live ones, and the lanes of one priority and type that may hold ready work take turns in a rotation
-- (lib/groups.lua): ROTATIONS, a hash "<prio>:<type>" -> its turn counter, while rotation_key("<prio>:<type>"), a
-- sorted set group -> turn, holds a group ('' stands for the lane without a group). A group lane joins its
-- rotation whenever work is pushed to it, leaves it when a claim finds it empty, and is deleted once empty.
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
local GROUP_LANES = base .. 'glanes' -- a set: the group lanes whose streams exist
local ROTATIONS = base .. 'rotations' -- a hash: "<prio>:<type>" -> its rotation's turn counter
local GROUP_LEASED = base .. 'group:leased' -- a hash: group -> its tasks leased now (no field: none)
local GROUP_MARK = '\31'
local FINISHED_CHANNEL = 'tq:finished'
local CHANGED_CHANNEL = 'tq:changed'
local READY_CHANNEL = 'tq:ready' -- its messages are queue names: KEYS[1] is "tq:{" .. queue .. "}:"
local QUEUE = string.sub(base, 5, -3)
local GROUP = 'tq'
-- The two keys outside the queue's slot (Storage/RedisKeys.cs): the registry of live queues, and the due index,
-- queue name -> the earliest ms at which something in the queue may fall due (a lower bound: lib/due.lua's visit
-- sets the true time). The background loops visit only the queues whose time has come.
local QUEUES = 'tq:queues'
local DUE = 'tq:due'

-- Return codes, shared by every script; Storage/ScriptCodes.cs maps them to results in one place.
local OK, STALE, MISSING = 1, 0, -1
local RETRYING, DEAD_LETTERED, CANCELLED, CANCEL_REQUESTED, ALREADY_FINISHED = 2, 3, 4, 5, 6
local TIMED_OUT = 7
local CONSUMER = 'leased'
local FRONT_CONSUMER = 'front'

local function task_key(id) return base .. 't:' .. id end
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

-- A group lane may hold ready work: its stream exists (created the first time) and its group is in its rotation.
local function group_lane_ready(lane, group, plain_lane)
  if redis.call('SADD', GROUP_LANES, lane) == 1 and redis.call('EXISTS', ready_key(lane)) == 0 then
    redis.call('XGROUP', 'CREATE', ready_key(lane), GROUP, '0', 'MKSTREAM')
  end
  local rotation = rotation_key(plain_lane)
  if not redis.call('ZSCORE', rotation, group) then
    redis.call('ZADD', rotation, redis.call('HINCRBY', ROTATIONS, plain_lane, 1), group)
  end
end

-- Makes sure a lane can take entries: a lane without a group is in LEVELS (its stream created the first time), a
-- group lane in GROUP_LANES and its rotation.
local function open_lane(lane)
  local group, plain_lane = lane_group(lane)
  if group ~= '' then
    group_lane_ready(lane, group, plain_lane)
  elseif redis.call('SADD', LEVELS, lane) == 1 then
    redis.call('XGROUP', 'CREATE', ready_key(lane), GROUP, '0', 'MKSTREAM')
  end
end

-- Appends an entry for the task to a lane's stream (creating the lane the first time); returns its id.
local function append_to_lane(id, lane)
  open_lane(lane)
  return redis.call('XADD', ready_key(lane), '*', 'id', id)
end

-- Deletes a group lane that holds no entry and is out of its rotation (no ready work): an idle group costs nothing.
local function retire_group_lane(lane, group, plain_lane)
  if redis.call('XLEN', ready_key(lane)) == 0 and not redis.call('ZSCORE', rotation_key(plain_lane), group) then
    redis.call('DEL', ready_key(lane))
    redis.call('SREM', GROUP_LANES, lane)
    redis.call('HDEL', FRONT, lane)
  end
end

-- A lease of a task in `lane` ended (completed, failed, reclaimed or handed back): its group counts one less. When
-- that was the group's last lease and `sid` names the entry (it goes), the entry is dropped now and the lane
-- retired if that emptied it (a caller dropping the entry again later finds nothing): one HINCRBY per lease end
-- otherwise. (A group with work of several priorities or types: a lane emptied while the group still held leases
-- in another stays, empty, until work comes back to it and drains again, or its queue is forgotten.)
local function end_group_lease(lane, sid)
  if not lane then return end
  local group, plain_lane = lane_group(lane)
  if group == '' then return end
  local left = redis.call('HINCRBY', GROUP_LEASED, group, -1)
  if left <= 0 then redis.call('HDEL', GROUP_LEASED, group) end
  if left <= 0 and sid and sid ~= '' then
    redis.call('XACK', ready_key(lane), GROUP, sid)
    redis.call('XDEL', ready_key(lane), sid)
    retire_group_lane(lane, group, plain_lane)
  end
end

-- Appends the task to its lane's ready stream and records where its entry lives.
local function push_ready(id, key, priority, type, now, group)
  local lane = lane_of(priority, type, group)
  local sid = append_to_lane(id, lane)
  redis.call('HSET', key, 'state', 'ready', 'sid', sid, 'lane', lane, 'enqueued', now)
  return sid
end

-- Acknowledges and deletes the task's stream entry (XDEL alone is safe for undelivered entries too).
local function drop_stream_entry(key)
  local entry = redis.call('HMGET', key, 'prio', 'sid', 'lane')
  if entry[2] and entry[2] ~= '' then
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
-- ({stream = {entry id, ...}}), 1000 per command: the batched half of settling many tasks.
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
    index_finished(state, { now, id }, now, retention_ms)
  else
    redis.call('DEL', key)
    if ikey and ikey ~= '' then redis.call('DEL', idem_key(ikey)) end
  end
end

-- Deletes a dead letter for good (trim or purge).
local function delete_dead(id)
  local key = task_key(id)
  local ikey = redis.call('HGET', key, 'ikey')
  if ikey and ikey ~= '' then redis.call('DEL', idem_key(ikey)) end
  redis.call('DEL', key)
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
