-- due: the queues whose time in the due index (lib/common.lua DUE) has come, for the reaper's and the promoter's
-- visits, and when the next one falls due. Reads only; the visits (lib/due.lua) move each queue's time on.
-- KEYS[1]  a due index: "tq:due", or one slot's "tq:due:{tag}" in a cluster (or the schedules' "tq:sched:due" or
--          "tq:sched:due:{tag}", lib/schedule.lua, for the scheduler): Storage/DueIndexes.cs reads each
-- ARGV[1]  time shift in ms
-- ARGV[2]  maximum number of queues
-- Returns  {ms until the first queue not due yet falls due (-1 = none, or only +inf scores), queue, ...}: the due queues,
--          earliest first
local t = redis.call('TIME') -- Redis's clock, as now_ms in lib/common.lua (not included: KEYS[1] is no queue here)
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local out = { -1 }
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, queue in ipairs(due) do out[#out + 1] = queue end
local next = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
-- A queue scored +inf (the schedule index's queue whose schedules are all paused) never falls due: it is no next time.
if next[2] and tonumber(next[2]) < math.huge then out[1] = math.max(0, tonumber(next[2]) - now) end
return out
