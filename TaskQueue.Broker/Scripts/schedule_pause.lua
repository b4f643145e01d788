-- schedule_pause: pauses a schedule (no slot fires while paused) or resumes it at its next slot after now (the
-- slots of the pause are not caught up).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms (0 outside tests)
-- ARGV[2]  schedule name
-- ARGV[3]  '1' pause, '0' resume
-- ARGV[4]  resume: the version the broker read (compare-and-set)
-- ARGV[5]  resume: the first slot after the Redis time the broker read (ms; -1: none)
-- Returns  {code, version}: OK (done, or it already was so: nothing written), STALE (resume: the version moved, or
--          the slot is not after the last slot handled: read again), MISSING (no such schedule). Either bumps the
--          version; a resume publishes the queue on SCHED_CHANNEL.
--!include lib/common.lua
--!include lib/task.lua
--!include lib/schedule.lua
local now = now_ms(ARGV[1])
local name = ARGV[2]
local key = schedule_key(name)
local s = redis.call('HMGET', key, 'version', 'paused', 'last', 'buffered')
if not s[1] then return { MISSING, 0 } end
local version = tonumber(s[1])
if s[2] == ARGV[3] then return { OK, version } end
if ARGV[3] == '1' then
  redis.call('HSET', key, 'paused', '1', 'version', version + 1, 'updated', now)
  redis.call('ZADD', SCHEDULES, '+inf', name)
else
  local next = tonumber(ARGV[5])
  if version ~= tonumber(ARGV[4]) or (next >= 0 and next <= (tonumber(s[3]) or 0)) then return { STALE, version } end
  redis.call('HSET', key, 'paused', '0', 'version', version + 1, 'next', ARGV[5], 'updated', now)
  redis.call('ZADD', SCHEDULES, visit_at(next, false, s[4], now), name)
  redis.call('PUBLISH', SCHED_CHANNEL, QUEUE)
end
reindex_schedules()
return { OK, version + 1 }
