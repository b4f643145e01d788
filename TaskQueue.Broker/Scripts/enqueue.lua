-- enqueue: adds a batch of new tasks to one queue.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- ARGV[1]  time shift in ms (0 outside tests)
-- ARGV[2]  queue name
-- ARGV[3..] 12 values per task: id, type, payload, priority, max_attempts, delay_ms, not_before_ms (unix,
--          0 = none), timeout_ms (0 = none), expires_after_ms (0 = never), idempotency_key ('' = none),
--          traceparent, tracestate
-- Returns  {id, duplicate (0|1), ...} per task in order. A task whose idempotency key is already taken
--          returns the first task's id with duplicate = 1 and writes nothing.
--!include lib/common.lua
local FIELDS = 12
local now = now_ms(ARGV[1])
local now_text = string.format('%d', now)
local queue = ARGV[2]
local out = {}
local added = 0
local lanes_seen = {}
for i = 3, #ARGV, FIELDS do
  local id, ikey = ARGV[i], ARGV[i + 9]
  local existing = false
  if ikey ~= '' then
    existing = redis.call('GET', idem_key(ikey))
    if not existing then redis.call('SET', idem_key(ikey), id) end
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 1
  else
    local key = task_key(id)
    local priority = ARGV[i + 3]
    local lane = lane_of(priority, ARGV[i + 1])
    local due = math.max(now + tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]))
    local expires_after = tonumber(ARGV[i + 8])
    local expires = 0
    if expires_after > 0 then expires = now + expires_after end
    local state, sid = 'scheduled', ''
    if due > now then
      redis.call('ZADD', SCHEDULED, due, id)
    else
      local stream = ready_key(lane)
      if not lanes_seen[lane] then
        lanes_seen[lane] = true
        if redis.call('SADD', LEVELS, lane) == 1 then
          redis.call('XGROUP', 'CREATE', stream, GROUP, '0', 'MKSTREAM')
        end
      end
      state, sid = 'ready', redis.call('XADD', stream, '*', 'id', id)
    end
    -- One write per task with every field (the entry is added first so its id is known). The fields
    -- every transition reads or writes come first: a small hash is a list that lookups scan from the head.
    local fields = {
      'state', state, 'token', '', 'sid', sid, 'lane', lane, 'prio', priority, 'attempt', 0, 'worker', '', 'ikey', ikey,
      'expires', expires, 'type', ARGV[i + 1], 'max', ARGV[i + 4], 'timeout', ARGV[i + 7], 'tp', ARGV[i + 10],
      'ts', ARGV[i + 11], 'cancel', '0', 'created', now_text, 'due', due, 'id', id, 'queue', queue,
      'payload', ARGV[i + 2] }
    if state == 'ready' then
      fields[#fields + 1] = 'enqueued'
      fields[#fields + 1] = now_text
    end
    redis.call('HSET', key, unpack(fields))
    added = added + 1
    out[#out + 1] = id
    out[#out + 1] = 0
  end
end
if added > 0 then redis.call('HINCRBY', STATS, 'submitted', added) end
return out
