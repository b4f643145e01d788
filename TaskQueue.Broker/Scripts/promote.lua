-- promote: moves due scheduled and retry work to the ready streams in a bounded batch, and keeps the
-- dead-letter queue within its bounds.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- ARGV[1]  time shift in ms
-- ARGV[2]  maximum number to promote
-- ARGV[3]  retention in ms (for tasks that expire while scheduled)
-- ARGV[4]  dead-letter max count
-- ARGV[5]  dead-letter max age in ms
-- Returns  {promoted, expired, ms until the next scheduled task is due (-1 = none)}
--!include lib/common.lua
--!include lib/promote.lua
local now = now_ms(ARGV[1])
local promoted, expired = promote_due(now, tonumber(ARGV[2]), ARGV[3])
trim_dead(now, ARGV[4], ARGV[5])
local next_due = -1
local head = redis.call('ZRANGE', SCHEDULED, 0, 0, 'WITHSCORES')
if head[2] then next_due = math.max(0, tonumber(head[2]) - now) end
return { promoted, expired, next_due }
