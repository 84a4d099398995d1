--[[
  Operator change to one live mapping: move the group to another partition, or release it (delete the
  mapping so its next message is routed afresh). Atomic compare-and-set: it applies only when the mapping
  still names the partition the operator saw, and the group has been idle long enough by Redis's clock.

  Idleness is measured from the END of the stamped minute, because a stamp "p:m" only says the last
  access was somewhere in minute m: idle = now - (m + 1) minutes. This never overstates idleness.

  Input:
    KEYS[1] bucket hash holding the group's mapping   (<prefix>:{<topic>}:m:<bucket>)
    KEYS[2] loads hash, partition -> mapped groups    (<prefix>:{<topic>}:loads)
    ARGV[1] MessageGroup
    ARGV[2] partition the mapping must still name (compare-and-set)
    ARGV[3] target partition, or -1 to release the mapping
    ARGV[4] minimum idle time, ms
    ARGV[5] 1 for a dry run (check only, write nothing), else 0

  Output: { status, partition, lastAccessMinute, nowMs }
    status "ok"      applied (or would be, on a dry run); partition is the one it was mapped to
    status "missing" no mapping (partition, lastAccessMinute are -1)
    status "changed" the mapping names another partition than ARGV[2] (someone else changed it)
    status "busy"    used too recently; lastAccessMinute says when
]]
local rcall = redis.call
local bucketKey, loadsKey = KEYS[1], KEYS[2]
local group, expected, target = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local minIdleMs, dryRun = tonumber(ARGV[4]), ARGV[5] == '1'

local time = rcall('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local existing = rcall('HGET', bucketKey, group)
if not existing then return { 'missing', -1, -1, nowMs } end
local sep = string.find(existing, ':', 1, true)
local partition = tonumber(string.sub(existing, 1, sep - 1))
local minute = tonumber(string.sub(existing, sep + 1))

if partition ~= expected then return { 'changed', partition, minute, nowMs } end
if nowMs - (minute + 1) * 60000 < minIdleMs then return { 'busy', partition, minute, nowMs } end
if dryRun then return { 'ok', partition, minute, nowMs } end

rcall('HINCRBY', loadsKey, partition, -1)
if target < 0 then
  rcall('HDEL', bucketKey, group)
else
  -- Keeps the old stamp: a move is not a use, so the group stays as idle as it was (cleanup still applies).
  rcall('HSET', bucketKey, group, target .. ':' .. minute)
  rcall('HINCRBY', loadsKey, target, 1)
end
return { 'ok', partition, minute, nowMs }
