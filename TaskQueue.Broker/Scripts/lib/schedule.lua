-- Schedules' shared words (spliced in after lib/common.lua and lib/task.lua where a script says
-- `--!include lib/schedule.lua`). A schedule lives in the slot of the queue it fills. Its hash (schedule_key(name))
-- has these fields; Storage/ScheduleFields.cs names the same ones (a unit test compares the two lists):
--   name        the schedule's name within the queue
--   cron        its cron expression (5 fields, or 6 with seconds first)
--   tz          its IANA time zone ('' = UTC)
--   type        the task type of the tasks it creates
--   payload     their payload
--   prio        their priority
--   max         their most attempts
--   timeout     their execution timeout in ms (0: none)
--   expires     ms after its creation that a task of it is dropped unstarted (0: never)
--   group       their group ('' = none): its lane and the queue's group limits
--   overlap     allow | skip | queue-one: what a slot does while the previous run is not final
--   catchup     skip | one | all: which missed slots run (the broker's plan, Schedules/SlotPlanner.cs)
--   catchup_max the most missed slots "all" runs
--   version     bumped by every change of the definition, a pause and a resume: every visit's compare-and-set
--   next        the next slot not handled yet, in ms (-1: the expression names no later instant)
--   last        the latest slot a visit handled (ms; 0: none): a slot at or before it never fires again
--   last_task   the local id of the last task it created (a slot's or a trigger's)
--   paused      '1' while paused
--   buffered    a slot queue-one keeps back until the running run is final (ms; absent: none)
--   buffered_id that slot's task id
--   fired       tasks it created
--   skipped     slots its overlap policy skipped
--   missed      missed slots its catch-up policy dropped
--   created     ms when it was first stored
--   updated     ms of its last change
-- SCHEDULES, a sorted set: name -> ms when the schedule needs a visit (its next slot; a recheck interval away while a
-- slot is buffered; +inf while paused or exhausted). SCHED_DUE, KEYS[4], global like DUE ('tq:sched:due', or its slot's
-- 'tq:sched:due:{tag}' in a cluster): queue -> the head of its SCHEDULES (a queue with schedules is in it whatever its
-- score): the scheduler visits only the queues whose time has come.
local SCHEDULES = base .. 'sched'
local SCHED_DUE = KEYS[4]
local SCHED_CHANNEL = 'tq:sched' -- its messages are queue names whose schedules changed: wakes every broker's scheduler
local UNREGISTERED = -2 -- the registry does not hold the queue: the broker registers it and calls again
local LIMIT_REACHED = -3

local function schedule_key(name) return base .. 'sched:' .. name end

-- Sets the queue's entry in SCHED_DUE to its earliest schedule visit (or removes it: no schedule left).
local function reindex_schedules()
  local head = redis.call('ZRANGE', SCHEDULES, 0, 0, 'WITHSCORES')
  if head[2] then redis.call('ZADD', SCHED_DUE, head[2], QUEUE) else redis.call('ZREM', SCHED_DUE, QUEUE) end
end

-- When a schedule needs its next visit: its next slot, `recheck_at` if a slot is buffered, never while paused.
local function visit_at(next, paused, buffered, recheck_at)
  if paused then return '+inf' end
  local at = nil
  if next >= 0 then at = next end
  if buffered then at = math.min(at or recheck_at, recheck_at) end
  if not at then return '+inf' end
  return string.format('%d', at)
end

-- Whether the task `id` is a run that is not final yet (waiting or running), and its state.
local function run_active(id)
  if not id or id == '' then return false, nil end
  local state = redis.call('HGET', task_key(id), 'state')
  return state == 'ready' or state == 'scheduled' or state == 'leased', state
end

-- Creates the schedule's task `id`, ready now, from its template `t` (the hash's type, payload, prio, max, timeout,
-- expires and group, in that order), through enqueue's own writer (lib/task.lua); counts it as submitted.
local function create_from_template(t, id, now, lanes_seen)
  local expires = 0
  if tonumber(t[6]) > 0 then expires = now + tonumber(t[6]) end
  local spec = { id, t[1], t[2], t[3], t[4], 0, 0, t[5], t[6], '', '', '', '', '', 0, t[7] or '' }
  create_task(spec, 1, id, now, expires, '', '', '', now, string.format('%d', now), QUEUE, lanes_seen)
  redis.call('HINCRBY', STATS, 'submitted', 1)
end
local TEMPLATE_FIELDS = { 'type', 'payload', 'prio', 'max', 'timeout', 'expires', 'group' }
