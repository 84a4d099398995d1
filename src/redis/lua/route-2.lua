--[[
  Get-or-assign the partition of one MessageGroup, atomically for every replica.

  An existing mapping is returned unchanged (sticky) and its last-access minute rewritten, even within the
  same minute: every call must propagate a write, because the caller's WAIT (REDIS_REPLICA_ACKS, see
  src/redis/replica-acks.ts) waits only for its own connection's writes. The rewrite comes after the
  creating write in the replication stream, so it also covers a mapping another sidecar created that has
  not reached the replicas yet. A new group
  goes to the partition with the fewest mapped groups; among equally loaded partitions, to the one the
  group prefers most (its rendezvous-hash ranking, computed by the caller: src/routing/hashing.ts
  `preferenceOrder`), so the script itself only compares loads.

  Input:
    KEYS[1] bucket hash holding this group's mapping   (<prefix>:{<topic>}:m:<bucket>)
    KEYS[2] loads hash, partition -> mapped groups     (<prefix>:{<topic>}:loads)
    ARGV[1] MessageGroup
    ARGV[2] partition count of the topic (from Kafka metadata; used only to assign new groups)
    ARGV[3] every partition 0..count-1, most preferred first, comma-separated

  Output: { partition, created } where created is 1 when this call made the mapping, else 0.
  Mapping values are "<partition>:<last access, minutes since epoch by Redis's clock>".
]]
local rcall = redis.call
local bucketKey, loadsKey = KEYS[1], KEYS[2]
local group = ARGV[1]
local partitionCount = tonumber(ARGV[2])

local time = rcall('TIME')
local minute = math.floor(tonumber(time[1]) / 60)

local existing = rcall('HGET', bucketKey, group)
if existing then
  -- Sticky, even when the caller's partition count is lower than the mapped partition: Kafka partition
  -- counts only grow, so the caller's count is stale (another replica saw the topic grow first).
  local sep = string.find(existing, ':', 1, true)
  local partition = tonumber(string.sub(existing, 1, sep - 1))
  rcall('HSET', bucketKey, group, partition .. ':' .. minute)
  return { partition, 0 }
end

-- HGETALL rather than HMGET of every partition: passing thousands of fields through unpack() fails past
-- Lua's C stack (about 8,000 values), and the loads hash holds one field per partition anyway.
local loads = {}
local stored = rcall('HGETALL', loadsKey)
for i = 1, #stored, 2 do loads[tonumber(stored[i]) + 1] = stored[i + 1] end

local min
for p = 1, partitionCount do
  local load = tonumber(loads[p]) or 0
  if min == nil or load < min then min = load end
end

local best
for p in string.gmatch(ARGV[3], '%d+') do
  if (tonumber(loads[tonumber(p) + 1]) or 0) == min then
    best = tonumber(p)
    break
  end
end

rcall('HSET', bucketKey, group, best .. ':' .. minute)
rcall('HINCRBY', loadsKey, best, 1)
return { best, 1 }
