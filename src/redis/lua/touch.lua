--[[
  Refresh the last-access minute of mappings that a replica used recently (sent in batches, not per
  message). Never recreates a mapping: a group that cleanup or an operator removed, or that now maps
  to another partition, is reported so the replica drops it from its local cache. When the topic's state is
  not the one the replica registered (Redis lost it, see route-3.lua), nothing is read or written and the
  replica keeps its cached routes: they are what the state is rebuilt against.

  Input (variable key count):
    KEYS[1]       topic meta hash (<prefix>:{<topic>}:meta)
    KEYS[i + 1]   bucket hash of entry i
    ARGV[1]       the topic's epoch as the replica registered it
    ARGV[2i]      MessageGroup of entry i
    ARGV[2i + 1]  partition the replica has cached for it

  Output: array with, per entry, 1 when the mapping exists with that partition, else 0; or -1 (not an
  array) when the topic's state was lost.
]]
local rcall = redis.call
if rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end
local time = rcall('TIME')
local minute = math.floor(tonumber(time[1]) / 60)
local result = {}
for i = 2, #KEYS do
  local group, partition = ARGV[2 * i - 2], ARGV[2 * i - 1]
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
  result[i - 1] = ok
end
return result
