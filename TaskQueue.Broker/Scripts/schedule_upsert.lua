-- schedule_upsert: creates or changes a schedule; a change takes effect at its next slot and never fires a slot again.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms (0 outside tests)
-- ARGV[2]  schedule name
-- ARGV[3]  the version the broker read (0: none stored): compare-and-set
-- ARGV[4]  the next slot of the new definition, in ms (-1: none), which the broker computed from what it read
-- ARGV[5]  the most schedules the queue may hold
-- ARGV[6..] the definition's field, value pairs (lib/schedule.lua: cron .. catchup_max, group among them)
-- Returns  {outcome, version}: outcome 2 created, 1 updated, 3 unchanged (the stored definition is the same: nothing is
--          written, its next slot stands), 0 stale (the version moved, or the next slot is not after the last slot
--          handled: read again), -3 the queue holds the most schedules already. An update keeps the schedule's state
--          (last slot, last task, counters, pause) and publishes the queue on SCHED_CHANNEL.
--!include lib/common.lua
--!include lib/task.lua
--!include lib/schedule.lua
local CREATED, UPDATED, UNCHANGED = 2, 1, 3
local now = now_ms(ARGV[1])
local name = ARGV[2]
local key = schedule_key(name)
local fields = { 'version', 'last', 'paused', 'buffered' }
for i = 6, #ARGV, 2 do fields[#fields + 1] = ARGV[i] end
local current = redis.call('HMGET', key, unpack(fields))
local version = tonumber(current[1]) or 0
if current[1] then
  local same = true
  for i = 6, #ARGV, 2 do
    -- A field stored before it existed (e.g. group) is absent: the same as its empty value.
    if (current[4 + (i - 4) / 2] or '') ~= ARGV[i + 1] then same = false break end
  end
  if same then return { UNCHANGED, version } end
end
if version ~= tonumber(ARGV[3]) then return { STALE, version } end
local next = tonumber(ARGV[4])
if next >= 0 and next <= (tonumber(current[2]) or 0) then return { STALE, version } end
local outcome = UPDATED
if not current[1] then
  if redis.call('ZCARD', SCHEDULES) >= tonumber(ARGV[5]) then return { LIMIT_REACHED, 0 } end
  outcome = CREATED
  redis.call('HSET', key, 'name', name, 'last', 0, 'last_task', '', 'paused', '0', 'fired', 0, 'skipped', 0, 'missed', 0,
    'created', now)
end
local values = {}
for i = 6, #ARGV do values[#values + 1] = ARGV[i] end
redis.call('HSET', key, 'version', version + 1, 'next', ARGV[4], 'updated', now, unpack(values))
redis.call('ZADD', SCHEDULES, visit_at(next, current[3] == '1', current[4], now), name)
reindex_schedules()
redis.call('PUBLISH', SCHED_CHANNEL, QUEUE)
return { outcome, version + 1 }
