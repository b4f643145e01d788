-- promote: moves due scheduled and retry work to the ready streams in a bounded batch, and keeps the
-- dead-letter queue within its bounds. A visit of the due index (lib/due.lua): once the batch is not full, the
-- queue's due time is set to its next one, or an empty queue is forgotten.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2]  maximum number to promote
-- ARGV[3]  retention in ms (for tasks that expire while scheduled)
-- ARGV[4]  dead-letter max count
-- ARGV[5]  dead-letter max age in ms
-- ARGV[6]  idle expiry in ms (how long an empty queue is kept)
-- Returns  {promoted, expired, ms until the next scheduled task is due (-1 = none)}
--!include lib/common.lua
--!include lib/promote.lua
--!include lib/due.lua
local now = now_ms(ARGV[1])
local promoted, expired = promote_due(now, tonumber(ARGV[2]), ARGV[3])
trim_dead(now, ARGV[4], ARGV[5])
if promoted + expired < tonumber(ARGV[2]) then revisit(now, ARGV[5], ARGV[6]) end
local next_due = -1
local head = redis.call('ZRANGE', SCHEDULED, 0, 0, 'WITHSCORES')
if head[2] then next_due = math.max(0, tonumber(head[2]) - now) end
return { promoted, expired, next_due }
