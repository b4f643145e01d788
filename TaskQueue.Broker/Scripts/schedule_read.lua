-- schedule_read: reads schedules of a queue, with Redis's clock and the state of each one's last task.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms (0 outside tests)
-- ARGV[2]  what: 'names' (the schedules named in ARGV[3..]), 'all' (every schedule), or 'due' (those whose visit is
--          due now, at most ARGV[3], without their payloads)
-- Returns  {now, {name, last task's state ('' none or gone), field, value, ...}, ...}: each schedule found, in name
--          order for 'all', in the order named for 'names' (a missing one is left out)
--!include lib/common.lua
--!include lib/task.lua
--!include lib/schedule.lua
local DUE_FIELDS = { 'version', 'next', 'last', 'paused', 'cron', 'tz', 'catchup', 'catchup_max', 'buffered', 'last_task' }
local now = now_ms(ARGV[1])
local out = { now }
local names
if ARGV[2] == 'due' then
  names = redis.call('ZRANGEBYSCORE', SCHEDULES, '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
elseif ARGV[2] == 'all' then
  names = redis.call('ZRANGE', SCHEDULES, 0, -1)
  table.sort(names)
else
  names = {}
  for i = 3, #ARGV do names[#names + 1] = ARGV[i] end
end
for _, name in ipairs(names) do
  local entry
  local key = schedule_key(name)
  if ARGV[2] == 'due' then
    local values = redis.call('HMGET', key, unpack(DUE_FIELDS))
    if values[1] then
      entry = { name, '' }
      for i, field in ipairs(DUE_FIELDS) do
        if values[i] then
          entry[#entry + 1] = field
          entry[#entry + 1] = values[i]
        end
      end
    end
  else
    local values = redis.call('HGETALL', key)
    if #values > 0 then
      entry = { name, '' }
      for i = 1, #values do entry[#entry + 1] = values[i] end
    end
  end
  if entry then
    local last = redis.call('HGET', key, 'last_task')
    if last and last ~= '' then entry[2] = redis.call('HGET', task_key(last), 'state') or '' end
    out[#out + 1] = entry
  end
end
return out
