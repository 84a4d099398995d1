--[[
  Refresh the last-access minute of mappings that a replica used recently (sent in batches, not per
  message). Never recreates a mapping: a group that cleanup or an operator removed, or that now maps
  to another partition, is reported so the replica drops it from its local cache.

  Input (variable key count, one key per entry):
    KEYS[i]       bucket hash of entry i
    ARGV[2i-1]    MessageGroup of entry i
    ARGV[2i]      partition the replica has cached for it

  Output: array with, per entry, 1 when the mapping exists with that partition, else 0.
]]
local rcall = redis.call
local time = rcall('TIME')
local minute = math.floor(tonumber(time[1]) / 60)
local result = {}
for i = 1, #KEYS do
  local group, partition = ARGV[2 * i - 1], ARGV[2 * i]
  local existing = rcall('HGET', KEYS[i], group)
  local ok = 0
  if existing then
    local sep = string.find(existing, ':', 1, true)
    if string.sub(existing, 1, sep - 1) == partition then
      ok = 1
      if tonumber(string.sub(existing, sep + 1)) ~= minute then
        rcall('HSET', KEYS[i], group, partition .. ':' .. minute)
      end
    end
  end
  result[i] = ok
end
return result
