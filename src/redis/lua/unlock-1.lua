--[[
  Release a lock only if the caller still holds it (it may have expired and been taken by another replica).

  Input:
    KEYS[1] lock key
    ARGV[1] the owner id the caller took it with

  Output: 1 when released, else 0.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
