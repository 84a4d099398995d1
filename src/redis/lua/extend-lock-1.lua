--[[
  Extend a lock only if the caller still holds it (it may have expired and been taken by another replica), as
  BullMQ extends a job's lock while the job runs.

  Input:
    KEYS[1] lock key
    ARGV[1] the owner id the caller took it with
    ARGV[2] the lock's new time to live, in milliseconds

  Output: 1 when extended, else 0.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
