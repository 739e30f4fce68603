-- wrk script for benchmarks/bench_service.py: doctors calling their next patient and completing them. Run with as
-- many threads as connections (-t N -c N): each thread is one doctor on one connection, so its Lua state is that
-- doctor's (the token it called, if any). Arguments after "--": day, the first doctor's number, run prefix.
local thread_no = 0
local threads = {}

function setup(thread)
    thread:set("doctor", string.format("dr%02d", thread_no))
    thread_no = thread_no + 1
    table.insert(threads, thread)
end

function init(args)
    day, prefix = args[1], args[2]
    apikey = "bench-doc-" .. doctor
    counter = 0
end

busy = nil -- the token this doctor called and has not completed yet
bad = 0

function request()
    counter = counter + 1
    local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = apikey,
        ["Idempotency-Key"] = string.format("%s-%s-%d", prefix, doctor, counter)}
    if busy ~= nil then
        return wrk.format("POST", string.format("/days/%s/tokens/%s/complete", day, busy), headers, "{}")
    end
    return wrk.format("POST", string.format("/days/%s/doctors/%s/call-next", day, doctor), headers, "{}")
end

function response(status, headers, body)
    if status >= 400 then
        bad = bad + 1
    end
    if busy ~= nil then
        busy = nil -- completed (or refused: called again next)
    elseif status == 200 then
        busy = string.match(body, '"token":{"id":"([^"]+)"')
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
