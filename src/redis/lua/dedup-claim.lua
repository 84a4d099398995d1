--[[
  Claim deduplication ids before writing their messages, so one id is written to Kafka at most once per
  window even when a client retries through another sidecar. Ids live in per-slice hashes (one slice per
  fraction of the window) that expire as a whole, which bounds memory without per-id TTLs.

  Values: "p:<lease deadline ms>:<owner>" while a sidecar writes the message (pending),
          "d:<partition>:<offset>" once Kafka acknowledged it (done),
          "r" when the write failed and the id may be claimed again (released).

  Input:
    KEYS[1..n] slice hashes (<prefix>:{<topic>}:dd:<slice>) covering the window; KEYS[1] receives new claims.
               An id's state is the strongest found in any of them (done, then a live claim), so their
               order does not matter and a slice written by a replica whose clock runs ahead is seen too.
    ARGV[1]    lease of new claims, ms; deadlines are Redis's clock plus this, so replicas' clocks never
               shorten a lease (slices, chosen by the caller's clock, tolerate skew up to one slice)
    ARGV[2]    owner token of the claiming sidecar
    ARGV[3]    TTL of the newest slice, seconds
    ARGV[4..]  deduplication ids

  Output: one entry per id, in order:
    "c"                       claimed by this call: write it, then settle
    "d:<partition>:<offset>"  already written: report the original result
    "p:<deadline>:<owner>"    another attempt is writing it now: wait, then claim again
]]
local rcall = redis.call
local time = rcall('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local pending = 'p:' .. (now + tonumber(ARGV[1])) .. ':' .. ARGV[2]
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local done, live
  for k = 1, #KEYS do
    local state = rcall('HGET', KEYS[k], id)
    if state then
      local kind = string.sub(state, 1, 1)
      if kind == 'd' then
        done = state
        break
      elseif kind == 'p' and tonumber(string.match(state, '^p:(%d+):')) > now then
        live = state
      end
    end
  end
  if done then
    out[#out + 1] = done
  elseif live then
    out[#out + 1] = live
  else
    rcall('HSET', KEYS[1], id, pending)
    out[#out + 1] = 'c'
  end
end
rcall('EXPIRE', KEYS[1], ARGV[3])
return out
