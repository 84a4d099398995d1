--[[
  Record a mapping that a replica made while Redis was unreachable (consistent hashing), unless another
  replica mapped the group meanwhile: Redis's mapping always wins, and the caller counts the conflict.

  Input:
    KEYS[1] bucket hash holding this group's mapping   (<prefix>:{<topic>}:m:<bucket>)
    KEYS[2] loads hash, partition -> mapped groups     (<prefix>:{<topic>}:loads)
    ARGV[1] MessageGroup
    ARGV[2] partition the replica used

  Output: the partition Redis maps the group to now (ARGV[2] unless there was a conflict).
]]
local rcall = redis.call
local existing = rcall('HGET', KEYS[1], ARGV[1])
local minute = math.floor(tonumber(rcall('TIME')[1]) / 60)
if existing then
  local partition = string.sub(existing, 1, string.find(existing, ':', 1, true) - 1)
  rcall('HSET', KEYS[1], ARGV[1], partition .. ':' .. minute)
  return tonumber(partition)
end
rcall('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. minute)
rcall('HINCRBY', KEYS[2], ARGV[2], 1)
return tonumber(ARGV[2])
