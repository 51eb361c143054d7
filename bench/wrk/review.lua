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

dofile("bench/wrk/report.lua")
