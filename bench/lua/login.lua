-- The login storm: every connection posts the same JSON login body, over and over.
-- Usage: wrk -s login.lua http://host:port/api/v1/auth/login -- '<json body>'
-- On exit it prints one "hl-status <code> <count>" line per HTTP status, summed over threads,
-- so the report can tell 429 rate limits (expected) from real failures.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   counts = {}
   wrk.method = "POST"
   wrk.body = args[1]
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json"
end

function response(status, headers, body)
   counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
   local totals = {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("counts")) do
         totals[status] = (totals[status] or 0) + n
      end
   end
   for status, n in pairs(totals) do
      io.write(string.format("hl-status %d %d\n", status, n))
   end
end
