-- Writes one new task: enqueue.lua's creation of a task, shared with the schedule scripts (spliced in after
-- lib/common.lua where a script says `--!include lib/task.lua`). Needs lib/common.lua.
-- `spec` holds the task in enqueue.lua's ARGV layout (its header) from index `i`: id, type, payload, priority,
-- max_attempts, delay_ms, not_before_ms, timeout_ms, expires_after_ms, idempotency_key, traceparent, tracestate,
-- unique_key, debounce_key, debounce_window_ms, group (absent or '' = none). The caller has resolved its due time and expiry (ms), taken its
-- idempotency, unique and debounce keys, and counts it as submitted. `lanes_seen` (a table, per script call) saves
-- the lane check of a lane this call already used. Returns the task's state: 'ready' or 'scheduled' (in SCHEDULED;
-- the caller marks the queue due).

local function append(list, name, value)
  list[#list + 1] = name
  list[#list + 1] = value
end

local function create_task(spec, i, id, due, expires, ikey, ukey, dkey, now, now_text, queue, lanes_seen)
  local key = task_key(id)
  local priority, group = spec[i + 3], spec[i + 15] or ''
  local lane = lane_of(priority, spec[i + 1], group)
  local state, sid = 'scheduled', ''
  if due > now then
    redis.call('ZADD', SCHEDULED, due, id)
  else
    if not lanes_seen[lane] then
      lanes_seen[lane] = true
      open_lane(lane)
    end
    state, sid = 'ready', add_to_open_lane(id, lane)
  end
  -- One write per task with every field (the entry is added first so its id is known). The fields
  -- every transition reads or writes come first: a small hash is a list that lookups scan from the head.
  local fields = {
    'state', state, 'token', '', 'sid', sid, 'lane', lane, 'prio', priority, 'attempt', 0, 'worker', '', 'ikey', ikey,
    'expires', expires, 'type', spec[i + 1], 'max', spec[i + 4], 'timeout', spec[i + 7], 'tp', spec[i + 10],
    'ts', spec[i + 11], 'cancel', '0', 'created', now_text, 'due', due, 'id', id, 'queue', queue,
    'payload', spec[i + 2] }
  if state == 'ready' then
    fields[#fields + 1] = 'enqueued'
    fields[#fields + 1] = now_text
  end
  -- Only tasks that have them carry the unique and debounce keys (read where the task reaches a final state).
  if ukey ~= '' then append(fields, 'ukey', ukey) end
  if dkey ~= '' then append(fields, 'dkey', dkey) end
  if group ~= '' then append(fields, 'group', group) end
  redis.call('HSET', key, unpack(fields))
  return state
end
