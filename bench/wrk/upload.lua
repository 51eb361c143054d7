-- POST /api/v1/media: the photo in $PHOTO as multipart field `file`, a bearer token rotated
-- from $TOKENS. A counter after the JPEG's end makes every body new (the server stores a
-- photo it has seen from the same person only once, without processing it again).
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local f = assert(io.open(os.getenv("PHOTO"), "rb"))
local photo = f:read("*all")
f:close()
local boundary = "fivestar-bench-boundary"
local head = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n"
  .. "Content-Type: image/jpeg\r\n\r\n" .. photo
local tail = "\r\n--" .. boundary .. "--\r\n"
local i = 0

function setup(thread)
  thread:set("offset", math.random(1, 1000000))
end

request = function()
  i = i + 1
  local n = i + (offset or 0)
  local token = tokens[(n % #tokens) + 1]
  return wrk.format("POST", "/api/v1/media", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
  }, head .. tostring(n) .. tail)
end

dofile("bench/wrk/report.lua")
