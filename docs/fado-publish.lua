-- fado route publisher: the only way routes are written to Redis.
-- Contract: docs/routing-contract.md (version 1).
--
-- KEYS: routes (hash), version (string), feed (stream), default (string),
--       epoch (string)
-- ARGV: maxlen, then triples of op, bucket, body.
--   set <bucket> <body>      routes[bucket] = "F1 <v> <body>"
--   del <bucket> ""          remove routes[bucket]
--   default "" <body>        default = "F1 <v> <body>"
--   nodefault "" ""          remove default
--   reset "" <epoch>         new epoch; gateways resync from the table
-- Returns the last version assigned.
--
-- Running as one script makes each change atomic: the hash, the counter and
-- the feed entry move together, and versions in the feed stay consecutive.

local routes, version, feed, default, epoch =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local maxlen = tonumber(ARGV[1])
if maxlen == nil or maxlen < 1 then
    return redis.error_reply("fado-publish: maxlen must be a positive integer")
end
if (#ARGV - 1) % 3 ~= 0 then
    return redis.error_reply("fado-publish: arguments must be op, bucket, body triples")
end

-- Validate everything first: Redis does not roll a script back on error,
-- so a bad triple must be refused before anything is written.
local known = { set = true, del = true, default = true, nodefault = true, reset = true }
for i = 2, #ARGV, 3 do
    local op, bucket, body = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    if not known[op] then
        return redis.error_reply("fado-publish: unknown op '" .. op .. "'")
    end
    if (op == "set" or op == "del") and bucket == "" then
        return redis.error_reply("fado-publish: " .. op .. " needs a bucket")
    end
    if op == "reset" and body == "" then
        return redis.error_reply("fado-publish: reset needs an epoch")
    end
end

local last = tonumber(redis.call("GET", version) or "0")

for i = 2, #ARGV, 3 do
    local op, bucket, body = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local v = redis.call("INCR", version)
    last = v
    if op == "set" then
        local rec = "F1 " .. v .. " " .. body
        redis.call("HSET", routes, bucket, rec)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "set", "b", bucket, "r", rec)
    elseif op == "del" then
        redis.call("HDEL", routes, bucket)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "del", "b", bucket)
    elseif op == "default" then
        local rec = "F1 " .. v .. " " .. body
        redis.call("SET", default, rec)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "default", "r", rec)
    elseif op == "nodefault" then
        redis.call("DEL", default)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "nodefault")
    elseif op == "reset" then
        redis.call("SET", epoch, body)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "reset")
    end
end

return last
