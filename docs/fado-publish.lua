-- fado route publisher: the only way routes are written to Redis.
-- Contract: docs/routing-contract.md (versions 1 and 2).
--
-- KEYS: routes (hash), version (string), feed (stream), default (string),
--       epoch (string), clusters (hash, optional: needed by cset and cdel
--       only, so a v1 caller passing five keys keeps working), settings
--       (hash, optional: needed by setting only)
-- ARGV: maxlen, then triples of op, name, body.
--   set <bucket> <body>      routes[bucket] = "F1 <v> <body>"
--   set2 <bucket> <body>     routes[bucket] = "F2 <v> <body>"
--   del <bucket> ""          remove routes[bucket]
--   default "" <body>        default = "F1 <v> <body>"
--   default2 "" <body>       default = "F2 <v> <body>"
--   nodefault "" ""          remove default
--   cset <cluster> <body>    clusters[cluster] = "C2 <v> <body>"
--   cdel <cluster> ""        remove clusters[cluster]
--   setting <name> <value>   settings[name] = value (bucket_header)
--   reset "" <epoch>         new epoch; gateways resync from the table
--   rset, rset2, rcset       as set, set2 and cset, with no feed entry: for a
--                            republish, whose closing reset makes gateways
--                            read the table again (feeding them 100k
--                            entries first would only slow both sides)
--   expect "" <epoch>        write nothing unless the epoch is <epoch>: the
--                            table this caller knows is still the one in
--                            Redis (an error starting "FADOEPOCH" if not);
--                            takes no version, adds no feed entry
-- Returns the last version assigned.
--
-- Running as one script makes each change atomic: the hash, the counter and
-- the feed entry move together, and versions in the feed stay consecutive.

local routes, version, feed, default, epoch, clusters, settings =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local maxlen = tonumber(ARGV[1])
if maxlen == nil or maxlen < 1 then
    return redis.error_reply("fado-publish: maxlen must be a positive integer")
end
if (#ARGV - 1) % 3 ~= 0 then
    return redis.error_reply("fado-publish: arguments must be op, bucket, body triples")
end

-- Validate everything first: Redis does not roll a script back on error,
-- so a bad triple must be refused before anything is written.
local known = { set = true, set2 = true, del = true, default = true,
                default2 = true, nodefault = true, cset = true, cdel = true,
                setting = true, reset = true, expect = true,
                rset = true, rset2 = true, rcset = true }
for i = 2, #ARGV, 3 do
    local op, bucket, body = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    if not known[op] then
        return redis.error_reply("fado-publish: unknown op '" .. op .. "'")
    end
    if (op == "set" or op == "set2" or op == "del" or op == "rset" or op == "rset2")
            and bucket == "" then
        return redis.error_reply("fado-publish: " .. op .. " needs a bucket")
    end
    if op == "cset" or op == "cdel" or op == "rcset" then
        if clusters == nil then
            return redis.error_reply("fado-publish: " .. op
                                     .. " needs the clusters hash as KEYS[6]")
        end
        if bucket == "" then
            return redis.error_reply("fado-publish: " .. op .. " needs a cluster")
        end
    end
    if (op == "cset" or op == "rcset") and body == "" then
        return redis.error_reply("fado-publish: " .. op .. " needs a body (zone state endpoints)")
    end
    if op == "setting" then
        if settings == nil then
            return redis.error_reply("fado-publish: setting needs the settings hash as KEYS[7]")
        end
        if bucket ~= "bucket_header" then
            return redis.error_reply("fado-publish: unknown setting '" .. bucket .. "'")
        end
        if not string.match(body, "^[%w-]+$") or #body > 64 then
            return redis.error_reply("fado-publish: bucket_header must be 1-64 of letters, digits, '-'")
        end
    end
    if (op == "reset" or op == "expect") and body == "" then
        return redis.error_reply("fado-publish: " .. op .. " needs an epoch")
    end
end

-- Checked after the triples and before any write: a Redis that restarted
-- empty (or was flushed) must not receive half a table.
for i = 2, #ARGV, 3 do
    if ARGV[i] == "expect" and redis.call("GET", epoch) ~= ARGV[i + 2] then
        return redis.error_reply("FADOEPOCH the routing table's epoch is not the expected one")
    end
end

local last = tonumber(redis.call("GET", version) or "0")

for i = 2, #ARGV, 3 do
    local op, bucket, body = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local v = last
    if op ~= "expect" then
        v = redis.call("INCR", version)
        last = v
    end
    if op == "set" or op == "set2" then
        local rec = (op == "set" and "F1 " or "F2 ") .. v .. " " .. body
        redis.call("HSET", routes, bucket, rec)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "set", "b", bucket, "r", rec)
    elseif op == "rset" or op == "rset2" then
        redis.call("HSET", routes, bucket, (op == "rset" and "F1 " or "F2 ") .. v .. " " .. body)
    elseif op == "rcset" then
        redis.call("HSET", clusters, bucket, "C2 " .. v .. " " .. body)
    elseif op == "del" then
        redis.call("HDEL", routes, bucket)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "del", "b", bucket)
    elseif op == "default" or op == "default2" then
        local rec = (op == "default" and "F1 " or "F2 ") .. v .. " " .. body
        redis.call("SET", default, rec)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "default", "r", rec)
    elseif op == "nodefault" then
        redis.call("DEL", default)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "nodefault")
    elseif op == "cset" then
        local rec = "C2 " .. v .. " " .. body
        redis.call("HSET", clusters, bucket, rec)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "cset", "c", bucket, "r", rec)
    elseif op == "cdel" then
        redis.call("HDEL", clusters, bucket)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "cdel", "c", bucket)
    elseif op == "setting" then
        redis.call("HSET", settings, bucket, body)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "setting", "k", bucket, "r", body)
    elseif op == "reset" then
        redis.call("SET", epoch, body)
        redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*",
                   "v", v, "op", "reset")
    end
end

return last
