--[[
  Get-or-assign the partition of one MessageGroup, atomically for every replica.

  An existing mapping is returned unchanged (sticky) and its last-access minute refreshed. A new group
  goes to the partition with the fewest mapped groups; ties go to the partition the group's hash prefers
  (rendezvous hashing, the same arithmetic as src/routing/hashing.ts `partitionScore`).

  Input:
    KEYS[1] bucket hash holding this group's mapping   (<prefix>:{<topic>}:m:<bucket>)
    KEYS[2] loads hash, partition -> mapped groups     (<prefix>:{<topic>}:loads)
    ARGV[1] MessageGroup
    ARGV[2] partition count of the topic (from Kafka metadata)
    ARGV[3] FNV-1a hash of the MessageGroup (unsigned 32-bit)

  Output: { partition, created } where created is 1 when this call made the mapping, else 0.
  Mapping values are "<partition>:<last access, minutes since epoch by Redis's clock>".
]]
local rcall = redis.call
local bucketKey, loadsKey = KEYS[1], KEYS[2]
local group = ARGV[1]
local partitionCount = tonumber(ARGV[2])
local groupHash = tonumber(ARGV[3])

local time = rcall('TIME')
local minute = math.floor(tonumber(time[1]) / 60)

local existing = rcall('HGET', bucketKey, group)
if existing then
  local sep = string.find(existing, ':', 1, true)
  local partition = tonumber(string.sub(existing, 1, sep - 1))
  if partition < partitionCount then
    if tonumber(string.sub(existing, sep + 1)) ~= minute then
      rcall('HSET', bucketKey, group, partition .. ':' .. minute)
    end
    return { partition, 0 }
  end
  -- The topic was recreated with fewer partitions: the old mapping names a partition that is gone.
  rcall('HINCRBY', loadsKey, partition, -1)
end

-- 32-bit multiply modulo 2^32 in doubles, split so no intermediate exceeds 2^53.
local function imul(a, b)
  local alo, ahi = a % 65536, math.floor(a / 65536)
  return (alo * b + (ahi * (b % 65536)) % 65536 * 65536) % 4294967296
end

local function u32(x)
  if x < 0 then return x + 4294967296 end
  return x
end

-- murmur3 fmix32 of (hash xor golden * (partition + 1)), as partitionScore in src/routing/hashing.ts.
local function score(partition)
  local x = u32(bit.bxor(groupHash, imul(partition + 1, 2654435769)))
  x = u32(bit.bxor(x, bit.rshift(x, 16)))
  x = imul(x, 2246822507)
  x = u32(bit.bxor(x, bit.rshift(x, 13)))
  x = imul(x, 3266489909)
  x = u32(bit.bxor(x, bit.rshift(x, 16)))
  return x
end

local fields = {}
for p = 0, partitionCount - 1 do fields[p + 1] = p end
local loads = rcall('HMGET', loadsKey, unpack(fields))

local best, bestLoad, bestScore = -1, nil, -1
for p = 0, partitionCount - 1 do
  local load = tonumber(loads[p + 1]) or 0
  local s = score(p)
  if bestLoad == nil or load < bestLoad or (load == bestLoad and s > bestScore) then
    best, bestLoad, bestScore = p, load, s
  end
end

rcall('HSET', bucketKey, group, best .. ':' .. minute)
rcall('HINCRBY', loadsKey, best, 1)
return { best, 1 }
