-- schedule_fire: a scheduler's visit to one due schedule: creates the tasks of its planned slots (each exactly once),
-- applies the overlap policy, and moves the schedule on to its next slot, all or nothing.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms (0 outside tests)
-- ARGV[2]  schedule name
-- ARGV[3]  the version the broker read: compare-and-set (with ARGV[4])
-- ARGV[4]  the next slot the broker read (ms): its plan starts there
-- ARGV[5]  the next slot after the plan (ms; -1: none): the first slot after the Redis time the broker read
-- ARGV[6]  recheck interval in ms: while queue-one keeps a slot back, the schedule is visited this often
-- ARGV[7]  missed slots the plan dropped (the catch-up policy), counted
-- ARGV[8..] slot ms, task id pairs to fire, earliest first (the task ids derived from queue, schedule and slot)
-- Returns  {code, fired, skipped, task id, ...}: code OK (the ids of the tasks created), STALE (the version or next
--          slot moved: another broker visited, or an upsert, pause or resume came between; nothing written), MISSING
--          (no such schedule) or -2 (the registry does not hold the queue: the broker registers it and calls again).
--          A slot fires only if Redis's clock has reached it and it is after the last slot handled; a slot whose task
--          exists already (a schedule deleted and created again) creates nothing. Overlap: allow creates every
--          slot's task; skip skips a slot while the last run is not final; queue-one keeps one slot back
--          (buffered) while the last run is running, creates it on a visit that finds that run final, and skips a
--          slot while a run waits or one is kept back.
--!include lib/common.lua
--!include lib/task.lua
--!include lib/schedule.lua
local now = now_ms(ARGV[1])
local name = ARGV[2]
local key = schedule_key(name)
local s = redis.call('HMGET', key, 'version', 'next', 'last', 'last_task', 'paused', 'buffered', 'buffered_id', 'overlap')
if not s[1] then return { MISSING, 0, 0 } end
if s[1] ~= ARGV[3] or s[2] ~= ARGV[4] or s[5] == '1' then return { STALE, 0, 0 } end
if redis.call('SISMEMBER', QUEUES, QUEUE) == 0 then return { UNREGISTERED, 0, 0 } end
local last, last_task, buffered, buffered_id, overlap = tonumber(s[3]) or 0, s[4] or '', s[6], s[7], s[8]
local template = redis.call('HMGET', key, unpack(TEMPLATE_FIELDS))
local lanes_seen = {}
local created = {}
local skipped = 0

local function create(id)
  create_from_template(template, id, now, lanes_seen)
  created[#created + 1] = id
  last_task = id
end

-- queue-one: the run kept back starts once the run before it is final.
if buffered and not run_active(last_task) then
  create(buffered_id)
  buffered, buffered_id = nil, nil
end

for i = 8, #ARGV, 2 do
  local slot, id = tonumber(ARGV[i]), ARGV[i + 1]
  if slot > last and slot <= now then
    last = slot
    if redis.call('EXISTS', task_key(id)) == 0 then
      local active, state = run_active(last_task)
      if overlap == 'allow' or not active then
        create(id)
      elseif overlap == 'queue-one' and state == 'leased' and not buffered then
        buffered, buffered_id = slot, id
      else
        skipped = skipped + 1
      end
    end
  end
end

local next = tonumber(ARGV[5])
redis.call('HSET', key, 'next', ARGV[5], 'last', string.format('%d', last), 'last_task', last_task)
if buffered then
  redis.call('HSET', key, 'buffered', string.format('%d', buffered), 'buffered_id', buffered_id)
else
  redis.call('HDEL', key, 'buffered', 'buffered_id')
end
if #created > 0 then redis.call('HINCRBY', key, 'fired', #created) end
if skipped > 0 then redis.call('HINCRBY', key, 'skipped', skipped) end
if tonumber(ARGV[7]) > 0 then redis.call('HINCRBY', key, 'missed', ARGV[7]) end
redis.call('ZADD', SCHEDULES, visit_at(next, false, buffered, now + tonumber(ARGV[6])), name)
reindex_schedules()
local out = { OK, #created, skipped }
for _, id in ipairs(created) do out[#out + 1] = id end
return out
