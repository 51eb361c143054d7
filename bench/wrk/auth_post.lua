-- POST $BENCH_PATH with body $BENCH_BODY (default "{}") and a bearer token rotated from $TOKENS.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local path = os.getenv("BENCH_PATH")
local body = os.getenv("BENCH_BODY") or "{}"
local i = 0

function setup(thread)
  thread:set("offset", math.random(1, #tokens))
end

request = function()
  i = i + 1
  local token = tokens[((i + (offset or 0)) % #tokens) + 1]
  return wrk.format("POST", path, { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end

dofile("bench/wrk/report.lua")
