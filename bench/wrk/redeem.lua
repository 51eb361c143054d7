-- POST /api/v1/shop/items/$ITEM/redeem {"quantity":1} with a fresh Idempotency-Key per
-- request, as members rotated from $TOKENS.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local path = "/api/v1/shop/items/" .. os.getenv("ITEM") .. "/redeem"
local counter = 0
local i = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

request = function()
  i = i + 1
  local key = string.format("redeem-%d-%d-%d", tid or 0, os.time(), i)
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json", ["Idempotency-Key"] = key },
    '{"quantity":1}')
end

dofile("bench/wrk/report.lua")
