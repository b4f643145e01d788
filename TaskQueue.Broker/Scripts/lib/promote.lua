-- Moves due scheduled tasks to their lanes' ready streams; a task that never started and whose expiry passed
-- while it waited expires instead. Needs lib/common.lua. Returns the number promoted, the number expired and
-- the set of lanes that received work ({lane = true}).
local function promote_due(now, max, retention_ms)
  local due = redis.call('ZRANGEBYSCORE', SCHEDULED, '-inf', now, 'LIMIT', 0, max)
  local promoted, expired, lanes = 0, 0, {}
  for _, id in ipairs(due) do
    redis.call('ZREM', SCHEDULED, id)
    local key = task_key(id)
    local t = redis.call('HMGET', key, 'state', 'prio', 'expires', 'started', 'type', 'group')
    if t[1] == 'scheduled' then
      local expires = tonumber(t[3]) or 0
      if expires > 0 and now >= expires and not t[4] then
        finish(id, key, 'expired', now, retention_ms, 'expired')
        expired = expired + 1
      else
        push_ready(id, key, t[2], t[5], now, t[6])
        lanes[lane_of(t[2], t[5], t[6])] = true
        notify_changed(id, false)
        promoted = promoted + 1
      end
    end
  end
  return promoted, expired, lanes
end
