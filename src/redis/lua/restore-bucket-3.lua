--[[
  Restore mappings of one bucket from the route log (src/routing/state-loss.ts): each group is mapped unless
  Redis maps it already (Redis wins; the caller rebuilds under a hold, so nothing assigns meanwhile), and the
  loads of the partitions it maps are incremented to match. Restored mappings are stamped with the current
  minute: the log holds no last access, so a restored group gets a full TTL again.

  Input:
    KEYS[1] bucket hash     (<prefix>:{<topic>}:m:<bucket>)
    KEYS[2] loads hash      (<prefix>:{<topic>}:loads)
    KEYS[3] topic meta hash (<prefix>:{<topic>}:meta; its "unlogged:<group>" fields, see route-3.lua)
    ARGV[2i-1], ARGV[2i]    MessageGroup and its partition, per restored group

  Output: number of mappings restored (absent before).
]]
local rcall = redis.call
local minute = math.floor(tonumber(rcall('TIME')[1]) / 60)
local restored = 0
for i = 1, #ARGV, 2 do
  if rcall('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1] .. ':' .. minute) == 1 then
    rcall('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    restored = restored + 1
    -- Read back from the log, so it is in the log.
    rcall('HDEL', KEYS[3], 'unlogged:' .. ARGV[i])
  end
end
return restored
