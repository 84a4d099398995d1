--[[
  Extend the leases of claims this sidecar still holds (messages queued or being written), so a claim
  expires only when its owner stops renewing it: when that sidecar died.

  Input:
    KEYS[i]    slice hash holding claim i (where dedup-claim.lua wrote it)
    ARGV[1]    owner token of the renewing sidecar
    ARGV[2]    lease, ms; the new deadline is Redis's clock plus this
    ARGV[2+i]  deduplication id of claim i

  Output: number of claims renewed (a claim settled or taken over meanwhile is left alone).
]]
local rcall = redis.call
local time = rcall('TIME')
local owner = ARGV[1]
local deadline = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + tonumber(ARGV[2])
local suffix = ':' .. owner
local renewed = 0
for i = 1, #KEYS do
  local id = ARGV[2 + i]
  local state = rcall('HGET', KEYS[i], id)
  if state and string.sub(state, 1, 2) == 'p:' and string.sub(state, -#suffix) == suffix then
    rcall('HSET', KEYS[i], id, 'p:' .. deadline .. suffix)
    renewed = renewed + 1
  end
end
return renewed
