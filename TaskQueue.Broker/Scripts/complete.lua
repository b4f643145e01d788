-- complete: records the results of tasks whose leases are still valid, releases the leases and deletes
-- the stream entries (a group lane's task has none: lib/common.lua); a finished task expires after the retention
-- period (its attempt history, when it has one, with it). Ended leases wake claims a concurrency limit held back
-- (wake_held, lib/flow.lua).
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  time shift in ms
-- ARGV[2]  retention in ms (0 = delete at once)
-- ARGV[3..] 3 values per task: id, lease token, result
-- Returns  one code per task: OK, STALE (rejected, nothing changed) or MISSING (lib/common.lua)
--!include lib/common.lua
--!include lib/flow.lua
-- The hot path: one read per task plus one ZMSCORE for the whole call; one write per task (none but the
-- delete when finished tasks are not kept); the lease, stream, counter, waiter, finished-index and group lease
-- count updates are batched (one ZADD and one trim per call; the group counts a few commands per call).
local now = now_ms(ARGV[1])
local now_text = string.format('%d', now)
local retention_ms = tonumber(ARGV[2])
local ids = {}
for i = 3, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
local deadlines = lease_deadlines(ids)
local out = {}
local done = {}
local entries = {}
local ended_groups = {} -- group -> leases of group lane tasks ended in this call (end_group_leases)
local finished = {}
local stale = 0
for n = 1, #ids do
  local i = 3 + (n - 1) * 3
  local id, token = ids[n], ARGV[i + 1]
  local key = task_key(id)
  local t = redis.call('HMGET', key, 'state', 'token', 'prio', 'sid', 'ikey', 'ukey', 'dkey', 'lane', 'hist')
  local code = OK
  if not t[1] then
    code = MISSING
  elseif t[1] ~= 'leased' or t[2] ~= token then
    code = STALE
  else
    -- Read before any task of this call was settled; a settled task fails the state check above first.
    local deadline = deadlines[n]
    if not deadline or tonumber(deadline) < now then code = STALE end
  end
  if code == OK then
    done[#done + 1] = id
    if is_group_entry(t[4]) then
      local group = lane_group(t[8])
      ended_groups[group] = (ended_groups[group] or 0) + 1
    else
      end_group_lease(t[8], t[4])
      add_stream_entry(entries, t[8], t[3], t[4])
    end
    local ikey = t[5]
    release_keys(id, t[6], t[7])
    if retention_ms > 0 then
      finished[#finished + 1] = now_text
      finished[#finished + 1] = id
      redis.call('HSET', key, 'state', 'completed', 'finished', now_text, 'result', ARGV[i + 2], 'token', '', 'sid', '')
      redis.call('PEXPIRE', key, retention_ms)
      if ikey and ikey ~= '' then redis.call('PEXPIRE', idem_key(ikey), retention_ms) end
      if t[9] then redis.call('PEXPIRE', attempts_key(id), retention_ms) end
    else
      redis.call('DEL', key)
      if ikey and ikey ~= '' then redis.call('DEL', idem_key(ikey)) end
      if t[9] then redis.call('DEL', attempts_key(id)) end
    end
  elseif code == STALE then
    stale = stale + 1
  end
  out[#out + 1] = code
end
if #done > 0 then
  end_group_leases(ended_groups)
  drop_settled(done, entries)
  redis.call('HINCRBY', STATS, 'completed', #done)
  if #finished > 0 then index_finished('completed', finished, now, retention_ms) end
  if redis.call('EXISTS', WAITERS) == 1 then
    for _, id in ipairs(done) do notify_finished(id) end
  end
  for _, id in ipairs(done) do notify_changed(id, true) end
  wake_held()
end
if stale > 0 then redis.call('HINCRBY', STATS, 'stale', stale) end
return out
