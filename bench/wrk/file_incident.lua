-- POST /api/v1/incidents as grid workers rotated from $TOKENS. With $REPLAY_KEYS=N the keys
-- cycle through N fixed keys (same body per key): after the first round every request is
-- a replay. Otherwise every request has a fresh key.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local grid = os.getenv("GRID")
local replay = tonumber(os.getenv("REPLAY_KEYS") or "0")
local counter = 0
local i = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local function body(n)
  local lat = 30.0 + (n % 5000) * 0.0001
  local lng = 120.0 + (n % 7000) * 0.0001
  return string.format('{"grid_id":%s,"category":"hazard","title":"井盖缺失 %d","description":"路口井盖缺失，夜间危险",'
    .. '"severity":"medium","lat":%.6f,"lng":%.6f,"occurred_at":"2026-01-01T00:00:00Z","media_ids":[]}', grid, n, lat, lng)
end

request = function()
  i = i + 1
  local key, n, token
  if replay > 0 then
    n = i % replay
    key = "replay-" .. n
    token = tokens[1]
  else
    n = i
    key = string.format("bench-%d-%d-%d", tid or 0, os.time(), i)
    token = tokens[(i % #tokens) + 1]
  end
  return wrk.format("POST", "/api/v1/incidents", {
    ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }, body(n))
end

dofile("bench/wrk/report.lua")
