-- replay: moves dead letters back to ready with their attempts reset (the last error is kept). A dead letter
-- with a unique key takes the key again; while another task that is not final holds it, the dead letter stays
-- (uniqueness holds while not final). A replayed task does not take its debounce key again: it runs as it was.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2]  maximum number to replay when no ids are given
-- ARGV[3..] task ids; none = the oldest dead letters, up to the maximum (those that stay are passed over)
-- Returns  the number replayed (ids that are not dead letters, or that stay, are skipped)
--!include lib/common.lua
local now = now_ms(ARGV[1])

-- Replays one dead letter unless its unique key is held by another task that is not final.
local function replay(id)
  local key = task_key(id)
  local t = redis.call('HMGET', key, 'prio', 'ukey', 'type', 'group')
  local ukey = t[2]
  if ukey and ukey ~= '' then
    local holder = redis.call('GET', uniq_key(ukey))
    if holder and holder ~= id then
      local state = redis.call('HGET', task_key(holder), 'state')
      if state == 'ready' or state == 'scheduled' or state == 'leased' then return false end
    end
    redis.call('SET', uniq_key(ukey), id)
  end
  redis.call('ZREM', DEAD, id)
  redis.call('HSET', key, 'attempt', 0, 'cancel', '0', 'finished', '', 'due', now)
  push_ready(id, key, t[1], t[3], now, t[4])
  notify_changed(id, false)
  return true
end

local replayed = 0
if #ARGV >= 3 then
  for i = 3, #ARGV do
    local id = ARGV[i]
    if redis.call('ZSCORE', DEAD, id) and replay(id) then replayed = replayed + 1 end
  end
else
  -- Oldest first; those that stay keep the front ranks, so each pass starts after them.
  local max, stayed = tonumber(ARGV[2]), 0
  while replayed < max do
    local ids = redis.call('ZRANGE', DEAD, stayed, stayed + max - replayed - 1)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if replay(id) then replayed = replayed + 1 else stayed = stayed + 1 end
    end
  end
end
if replayed > 0 then redis.call('HINCRBY', STATS, 'replayed', replayed) end
return replayed
