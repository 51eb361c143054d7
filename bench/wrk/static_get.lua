-- GET $BENCH_PATH as a phone's browser asks for the phone page: no token, gzip accepted.
local path = os.getenv("BENCH_PATH")

request = function()
  return wrk.format("GET", path, { ["Accept-Encoding"] = "gzip, deflate, br" })
end

dofile("bench/wrk/report.lua")
