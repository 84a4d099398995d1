--[[
  Record the outcome of claimed deduplication ids: the Kafka position of each written message, or a
  release for a message whose write failed (so a retry may claim it at once). Written to the slice that
  holds the claim, so the outcome replaces the pending state.

  Input:
    KEYS[1]    the slice hash holding the claims (<prefix>:{<topic>}:dd:<slice>)
    ARGV[1]    TTL of the slice, seconds
    ARGV[2..]  pairs: id, outcome ("d:<partition>:<offset>" or "r")

  Output: number of ids recorded.
]]
local rcall = redis.call
for i = 2, #ARGV, 2 do
  rcall('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
rcall('EXPIRE', KEYS[1], ARGV[1])
return (#ARGV - 1) / 2
