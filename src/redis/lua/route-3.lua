--[[
  Get-or-assign the partition of one MessageGroup, atomically for every replica.

  The topic's state must be the one the caller registered: its meta hash names the epoch the caller read
  when it registered the topic (a random id written when the topic's state was created or restored). A
  missing or different epoch means Redis lost the topic's state (FLUSHALL, a restart without persistence, a
  failover to a replica that never had it): nothing is written, so a group another replica still routes from
  its cache is never assigned afresh elsewhere. A `hold` field on the meta hash (a rebuild in progress, or
  routes an operator has not yet vouched for, see src/routing/state-loss.ts) refuses new groups only.

  An existing mapping is returned unchanged (sticky) and its last-access minute rewritten, even within the
  same minute: every call must propagate a write, because the caller's WAIT (REDIS_REPLICA_ACKS, see
  src/redis/replica-acks.ts) waits only for its own connection's writes. The rewrite comes after the
  creating write in the replication stream, so it also covers a mapping another sidecar created that has
  not reached the replicas yet. A new group
  goes to the partition with the fewest mapped groups; among equally loaded partitions, to the one the
  group prefers most (its rendezvous-hash ranking, computed by the caller: src/routing/hashing.ts
  `preferenceOrder`), so the script itself only compares loads.

  With the route log on, a new mapping is also listed in the topic's meta hash (field "unlogged:<group>")
  until the caller has appended it to the log (it then deletes the field): a replica that reads a mapping
  still listed there appends it itself before producing on it, so no message goes to a partition the log
  does not name. The meta hash, not a key of its own: it always exists, so a Cluster slot migration, which
  refuses a script whose keys are partly missing on the importing node (TRYAGAIN), treats the script as before.

  Input:
    KEYS[1] bucket hash holding this group's mapping   (<prefix>:{<topic>}:m:<bucket>)
    KEYS[2] loads hash, partition -> mapped groups     (<prefix>:{<topic>}:loads)
    KEYS[3] topic meta hash                            (<prefix>:{<topic>}:meta)
    ARGV[1] MessageGroup
    ARGV[2] partition count of the topic (from Kafka metadata; used only to assign new groups)
    ARGV[3] every partition 0..count-1, most preferred first, comma-separated
    ARGV[4] the topic's epoch as the caller registered it
    ARGV[5] 1 when the route log is on (new mappings are listed as unlogged), else 0

  Output: { partition, status }
    status 0  existing mapping, in the log (or the log is off)
    status 1  this call created the mapping
    status 2  existing mapping not yet in the log
    status -1 the topic's state is not the one the caller registered (lost); partition is -1
    status -2 new groups of the topic are on hold; partition is -1
  Mapping values are "<partition>:<last access, minutes since epoch by Redis's clock>".
]]
local rcall = redis.call
local bucketKey, loadsKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local group = ARGV[1]
local unloggedField = 'unlogged:' .. group
local partitionCount = tonumber(ARGV[2])

local meta = rcall('HMGET', metaKey, 'epoch', 'hold')
if meta[1] ~= ARGV[4] then return { -1, -1 } end

local time = rcall('TIME')
local minute = math.floor(tonumber(time[1]) / 60)

local existing = rcall('HGET', bucketKey, group)
if existing then
  -- Sticky, even when the caller's partition count is lower than the mapped partition: Kafka partition
  -- counts only grow, so the caller's count is stale (another replica saw the topic grow first).
  local sep = string.find(existing, ':', 1, true)
  local partition = tonumber(string.sub(existing, 1, sep - 1))
  rcall('HSET', bucketKey, group, partition .. ':' .. minute)
  if ARGV[5] == '1' and rcall('HEXISTS', metaKey, unloggedField) == 1 then return { partition, 2 } end
  return { partition, 0 }
end
if meta[2] then return { -1, -2 } end

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
if ARGV[5] == '1' then rcall('HSET', metaKey, unloggedField, best) end
return { best, 1 }
