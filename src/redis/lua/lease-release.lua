--[[
  Release delivery leases the caller still holds (lease-take.lua); a lease that expired and was taken by
  another owner meanwhile is left alone.

  Input:
    KEYS[i]  lease of group i (as in lease-take.lua)
    ARGV[1]  owner id the caller took them with

  Output: number of leases released.
]]
local released = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    released = released + 1
  end
end
return released
