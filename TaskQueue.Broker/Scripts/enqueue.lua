-- enqueue: adds a batch of new tasks to one queue.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms (0 outside tests)
-- ARGV[2]  queue name
-- ARGV[3..] 16 values per task: id, type, payload, priority, max_attempts, delay_ms, not_before_ms (unix,
--          0 = none), timeout_ms (0 = none), expires_after_ms (0 = never), idempotency_key ('' = none),
--          traceparent, tracestate, unique_key ('' = none), debounce_key ('' = none), debounce_window_ms,
--          group ('' = none: a group's task waits in its group's lane, lib/common.lua)
-- Returns  {id, outcome, ...} per task in order: CREATED, or the task that answered instead of a new one (nothing
--          new is written): IDEMPOTENT (its idempotency key is taken: the first task), UNIQUE_EXISTING (a task with
--          its unique key is waiting or running: that task), DEBOUNCED (a task with its debounce key still waits:
--          that task, now with this payload, due window after now). Checked in that order; a submit that
--          creates nothing does not take its idempotency key. A task without these keys pays one comparison each.
--          {MISSING} alone: the registry does not hold the queue (never registered, or forgotten when it was empty:
--          lib/due.lua); nothing was written, and the broker registers it (within the cap) and sends the batch again.
--          Scheduled work marks the queue due (lib/common.lua mark_due).
--!include lib/common.lua
--!include lib/task.lua
local FIELDS = 16
local CREATED, IDEMPOTENT, UNIQUE_EXISTING, DEBOUNCED = 0, 1, 2, 3
local now = now_ms(ARGV[1])
local now_text = string.format('%d', now)
local queue = ARGV[2]
local out = {}
local added = 0
local lanes_seen = {}
local earliest = nil -- the earliest due time of the work this call scheduled
if redis.call('SISMEMBER', QUEUES, queue) == 0 then return { MISSING } end

-- The task holding unique key `ukey`, if it is not final (a holder that is final or gone no longer counts).
local function unique_holder(ukey)
  local holder = redis.call('GET', uniq_key(ukey))
  if not holder then return false end
  local state = redis.call('HGET', task_key(holder), 'state')
  if state == 'ready' or state == 'scheduled' or state == 'leased' then return holder end
  return false
end

-- Debounces into the waiting task holding `dkey`: its payload becomes `payload`, its due time `due` and its
-- expiry `expires`; a ready one goes back to the scheduled set. Returns its id, or false when no task with
-- the key still waits (it started, finished or never was): then a new task is created.
local function debounce_into(dkey, payload, due, expires)
  local holder = redis.call('GET', debounce_key(dkey))
  if not holder then return false end
  local key = task_key(holder)
  local state = redis.call('HGET', key, 'state')
  if state == 'ready' then
    drop_stream_entry(key)
  elseif state ~= 'scheduled' then
    return false
  end
  redis.call('ZADD', SCHEDULED, due, holder)
  earliest = math.min(earliest or due, due)
  redis.call('HSET', key, 'state', 'scheduled', 'due', due, 'expires', expires, 'payload', payload)
  return holder
end

for i = 3, #ARGV, FIELDS do
  local id, ikey, ukey, dkey = ARGV[i], ARGV[i + 9], ARGV[i + 12], ARGV[i + 13]
  local due = math.max(now + tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]))
  local expires_after = tonumber(ARGV[i + 8])
  local expires = 0
  if expires_after > 0 then expires = now + expires_after end
  local existing, outcome = false, CREATED
  if ikey ~= '' then
    existing, outcome = redis.call('GET', idem_key(ikey)), IDEMPOTENT
  end
  if not existing and ukey ~= '' then
    existing, outcome = unique_holder(ukey), UNIQUE_EXISTING
  end
  if not existing and dkey ~= '' then
    -- A debounced task starts no earlier than its window after its last submit.
    due = math.max(due, now + tonumber(ARGV[i + 14]))
    existing, outcome = debounce_into(dkey, ARGV[i + 2], due, expires), DEBOUNCED
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = outcome
  else
    if ikey ~= '' then redis.call('SET', idem_key(ikey), id) end
    if ukey ~= '' then redis.call('SET', uniq_key(ukey), id) end
    if dkey ~= '' then redis.call('SET', debounce_key(dkey), id) end
    if create_task(ARGV, i, id, due, expires, ikey, ukey, dkey, now, now_text, queue, lanes_seen) == 'scheduled' then
      earliest = math.min(earliest or due, due)
    end
    added = added + 1
    out[#out + 1] = id
    out[#out + 1] = CREATED
  end
end
if added > 0 then redis.call('HINCRBY', STATS, 'submitted', added) end
if earliest then mark_due(earliest) end
return out
