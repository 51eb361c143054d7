-- GET $BENCH_PATH with a bearer token rotated from $TOKENS (one a line).
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local path = os.getenv("BENCH_PATH")
local i = 0

function setup(thread)
  thread:set("offset", math.random(1, #tokens))
end

request = function()
  i = i + 1
  local token = tokens[((i + (offset or 0)) % #tokens) + 1]
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

dofile("bench/wrk/report.lua")
