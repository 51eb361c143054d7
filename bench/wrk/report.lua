-- The RESULT line every bench script prints when wrk is done (loaded with dofile). With
-- COUNT_STATUSES=1 it also counts responses by status (a STATUSES line): slower, for the
-- fault runs.
local counted = { 200, 201, 400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 502, 503, 504 }
local threads = {}

if os.getenv("COUNT_STATUSES") == "1" then
  local wrapped_setup = setup
  setup = function(thread)
    table.insert(threads, thread)
    if wrapped_setup then wrapped_setup(thread) end
  end
  response = function(status, headers, body)
    local name = "s" .. status
    _G[name] = (_G[name] or 0) + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
  if #threads > 0 then
    local parts = {}
    for _, status in ipairs(counted) do
      local n = 0
      for _, thread in ipairs(threads) do n = n + (thread:get("s" .. status) or 0) end
      if n > 0 then table.insert(parts, status .. "=" .. n) end
    end
    io.write("STATUSES " .. table.concat(parts, " ") .. "\n")
  end
end
