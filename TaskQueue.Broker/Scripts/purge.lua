-- purge: deletes dead letters for good.
-- KEYS[1]  queue key prefix "tq:{queue}:"
-- KEYS[2..4] its due index, registry and schedule index (Storage/RedisKeySpace.cs: global, or its slot's in a cluster)
-- ARGV[1]  maximum number to purge when no ids are given
-- ARGV[2..] task ids; none = the oldest dead letters, up to the maximum
-- Returns  the number purged (ids that are not dead letters are skipped)
--!include lib/common.lua
local ids = {}
if #ARGV >= 2 then
  for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  ids = redis.call('ZRANGE', DEAD, 0, tonumber(ARGV[1]) - 1)
end
local purged = 0
for _, id in ipairs(ids) do
  if redis.call('ZSCORE', DEAD, id) then
    delete_dead(id)
    purged = purged + 1
  end
end
return purged
