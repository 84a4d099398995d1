--[[
  Record a mapping a replica made or kept without Redis, unless the group is mapped already: Redis's mapping
  always wins, and the caller counts the conflict. Two callers: a route hashed while Redis was unreachable
  (DEGRADED_ROUTING=hash), and a cached route re-seeded after Redis lost a topic's state with the route log
  off (src/routing/state-loss.ts). Like route-3.lua, it writes nothing unless the topic's epoch is the
  caller's. With the route log on, a mapping it writes is listed as unlogged (as route-3.lua lists a new one), so
  any replica's next lookup of the group appends it to the log if its recorder could not.

  Input:
    KEYS[1] bucket hash holding this group's mapping   (<prefix>:{<topic>}:m:<bucket>)
    KEYS[2] loads hash, partition -> mapped groups     (<prefix>:{<topic>}:loads)
    KEYS[3] topic meta hash                            (<prefix>:{<topic>}:meta)
    ARGV[1] MessageGroup
    ARGV[2] partition the replica used
    ARGV[3] the topic's epoch as the caller registered it
    ARGV[4] 1 when the route log is on (a mapping written is listed as unlogged), else 0

  Output: the partition Redis maps the group to now (ARGV[2] unless there was a conflict), or -1 when the
  topic's state is not the one the caller registered (nothing written).
]]
local rcall = redis.call
if rcall('HGET', KEYS[3], 'epoch') ~= ARGV[3] then return -1 end
local existing = rcall('HGET', KEYS[1], ARGV[1])
local minute = math.floor(tonumber(rcall('TIME')[1]) / 60)
if existing then
  local partition = string.sub(existing, 1, string.find(existing, ':', 1, true) - 1)
  rcall('HSET', KEYS[1], ARGV[1], partition .. ':' .. minute)
  return tonumber(partition)
end
rcall('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. minute)
rcall('HINCRBY', KEYS[2], ARGV[2], 1)
if ARGV[4] == '1' then rcall('HSET', KEYS[3], 'unlogged:' .. ARGV[1], ARGV[2]) end
return tonumber(ARGV[2])
