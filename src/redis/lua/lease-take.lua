--[[
  Take or renew the delivery leases of MessageGroups: a replica delivers a group only while it holds the
  group's lease, so two replicas never have one group at the endpoint at once (docs/consumption.md, "One
  delivery of a group at a time, across replicas"). A lease the caller already holds is renewed; a lease
  nobody holds (never taken, released, or expired with its owner's last renewal) is taken; another owner's
  live lease is left alone.

  Input:
    KEYS[i]  lease of group i (<prefix>:{consume:<subscription>}:lease:<partition>:<group as JSON>)
    ARGV[1]  owner id of the caller (replica instance and assignment epoch)
    ARGV[2]  lease, ms (Redis's clock: replicas' clocks never shorten it)

  Output: one number per key: 0 when the caller holds that lease now, else the ms left on the other owner's.
]]
local rcall = redis.call
local owner, ttl = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS do
  local holder = rcall('GET', KEYS[i])
  if holder == false or holder == owner then
    rcall('SET', KEYS[i], owner, 'PX', ttl)
    out[i] = 0
  else
    local left = rcall('PTTL', KEYS[i])
    if left < 1 then left = 1 end
    out[i] = left
  end
end
return out
