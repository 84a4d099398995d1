--[[
  A mapping is in the route log now: stop listing it as unlogged (see route-3.lua), and tell the caller whether
  the topic's state is still the one the mapping was made or read under (its epoch). Only then may the caller
  cache it and produce on it: a rebuild from the log that read the log before this append was acknowledged
  stamped a new epoch (or none is there yet), and its state may lack the mapping, so another replica could
  assign the group afresh elsewhere. Once this returns 1, a later loss rebuilds from a log that holds it.
  Nothing is written for a caller whose epoch is gone: a field of the new state is another replica's to clear.

  Input:
    KEYS[1] topic meta hash                            (<prefix>:{<topic>}:meta)
    ARGV[1] MessageGroup
    ARGV[2] the topic's epoch the mapping was made or read under

  Output: 1 when the epoch is the caller's (the field is cleared), 0 when the topic's state was lost since.
]]
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], 'unlogged:' .. ARGV[1])
return 1
