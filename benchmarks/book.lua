-- wrk script for benchmarks/bench_service.py: POST one JSON body per request, each with its own patient and
-- Idempotency-Key (a repeated key would be answered from the ledger, not booked). Arguments after "--":
-- path, API key, body template with %s where the unique id goes, run prefix.
local counter = 0
local thread_no = 0
local threads = {}

function setup(thread)
    thread_no = thread_no + 1
    thread:set("tid", thread_no)
    table.insert(threads, thread)
end

function init(args)
    path, apikey, template, prefix = args[1], args[2], args[3], args[4]
end

function request()
    counter = counter + 1
    local id = string.format("%s-%d-%d", prefix, tid, counter)
    local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = apikey, ["Idempotency-Key"] = id}
    return wrk.format("POST", path, headers, string.format(template, id))
end

-- a global of each thread's own Lua state, so that done() can read it with thread:get (a local would be unseen)
bad = 0
function response(status, headers, body)
    if status >= 400 then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local failed = 0
    for _, thread in ipairs(threads) do
        failed = failed + (thread:get("bad") or 0)
    end
    io.write(string.format("RESULT %d %.6f %.3f %.3f %d %d\n", summary.requests, summary.duration / 1e6,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, failed,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
