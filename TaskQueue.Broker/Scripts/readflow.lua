-- readflow: one consistent read of a queue's flow control (writes nothing): its settings (lib/flow.lua's FLOW),
-- how many of its tasks are leased now (what its concurrency limit counts), its token bucket's tokens now (by
-- Redis's clock), and the groups' overrides (FLOW_GROUPS).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- Returns  {paused, concurrency, rate, burst, group_concurrency, group_rate, group_burst (each '' when absent),
--          leased, tokens ('' without a rate; a decimal), group, overrides, group, overrides, ...}
--!include lib/common.lua
--!include lib/flow.lua
local now = now_ms(ARGV[1])
local f = redis.call('HMGET', FLOW, 'paused', 'concurrency', 'rate', 'burst', 'group_concurrency', 'group_rate', 'group_burst')
local out = {}
for i = 1, 7 do out[i] = f[i] or '' end
out[8] = redis.call('ZCARD', LEASES)
out[9] = ''
local rate = tonumber(f[3])
if rate and rate > 0 then
  local burst = tonumber(f[4]) or math.max(1, math.ceil(rate))
  local b = redis.call('HMGET', FLOW_BUCKET, 'tokens', 'at')
  out[9] = string.format('%.17g', bucket_tokens(tonumber(b[1]), tonumber(b[2]), rate, burst, now))
end
for _, v in ipairs(redis.call('HGETALL', FLOW_GROUPS)) do out[#out + 1] = v end
return out
