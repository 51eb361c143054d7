-- POST /api/v1/cards/{id}/review {"approve": true} as the secretary in $TOKENS, each card id
-- from $CARDS (one a line) once: thread k of n takes every n-th id from k.
local token = io.lines(os.getenv("TOKENS"))()
local cards = {}
for line in io.lines(os.getenv("CARDS")) do cards[#cards + 1] = line end
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  step = tonumber(os.getenv("THREADS") or "2")
  next_card = index or 1
end

request = function()
  local id = cards[((next_card - 1) % #cards) + 1]
  next_card = next_card + step
  return wrk.format("POST", "/api/v1/cards/" .. id .. "/review",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, '{"approve":true}')
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
