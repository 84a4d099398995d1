--[[
  Remove the mappings of one bucket that have not been used for longer than the TTL, decrement the loads of
  their partitions to match, and drop each one's `unlogged:<group>` field from the topic's meta hash (left by a
  route-log append that failed for a group never looked up again, it would outlive the mapping). One bucket per
  call keeps every call short (buckets are small hashes), so Redis never stalls however many groups a topic has.

  Input:
    KEYS[1] bucket hash     (<prefix>:{<topic>}:m:<bucket>)
    KEYS[2] loads hash      (<prefix>:{<topic>}:loads)
    KEYS[3] topic meta hash (<prefix>:{<topic>}:meta)
    ARGV[1] TTL in minutes; a mapping whose last access is older than now - TTL is removed

  Output: the removed mappings, flat: { group, partition, group, partition, ... } (the caller writes their
  releases to the route log).
]]
local rcall = redis.call
local bucketKey, loadsKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local time = rcall('TIME')
local cutoff = math.floor(tonumber(time[1]) / 60) - tonumber(ARGV[1])

local entries = rcall('HGETALL', bucketKey)
local removed = {}
for i = 1, #entries, 2 do
  local value = entries[i + 1]
  local sep = string.find(value, ':', 1, true)
  if tonumber(string.sub(value, sep + 1)) < cutoff then
    rcall('HDEL', bucketKey, entries[i])
    local partition = string.sub(value, 1, sep - 1)
    rcall('HINCRBY', loadsKey, partition, -1)
    rcall('HDEL', metaKey, 'unlogged:' .. entries[i])
    removed[#removed + 1] = entries[i]
    removed[#removed + 1] = partition
  end
end
return removed
