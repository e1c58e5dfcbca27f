-- preflight.lua -- wrk script: every request is the Chromium-like CORS preflight of bench/preflight.txt.
--
--   wrk -t1 -c64 -d6s -s bench/preflight.lua http://198.18.1.1:8080/
--
-- The request head is read once from preflight.txt next to this script
-- (lines starting with "#" skipped, CRLF line ends, blank line at the end)
-- and sent byte for byte on keep-alive connections; the URL only picks the
-- address and port (the Host header and path come from the file).
--
-- wrk calls wrk.format() once per thread to build a static request; this
-- script replaces it with a function returning the raw head, so the request
-- stays static (no per-request Lua call) and keeps Chromium's header order,
-- which a Lua table would not.
--
-- At the end one line is printed:
--   BENCH {"requests":N,"duration_us":N,"bytes":N,"connect":N,"read":N,
--          "write":N,"status":N,"timeout":N,"p50_us":N,"p90_us":N,
--          "p99_us":N,"mean_us":X,"max_us":N,"stdev_us":X}
-- status counts non-2xx/3xx answers; connect/read/write/timeout are socket
-- errors.

local function script_dir()
   local src = debug.getinfo(1, "S").source
   return src:match("^@(.*/)") or "./"
end

local function load_request()
   local path = os.getenv("PREFLIGHT_TXT") or (script_dir() .. "preflight.txt")
   local f = assert(io.open(path, "r"), "cannot open " .. path)
   local lines = {}
   for line in f:lines() do
      line = line:gsub("\r$", "")
      if line ~= "" and not line:match("^#") then
         lines[#lines + 1] = line
      end
   end
   f:close()
   assert(#lines > 1, path .. ": no request in it")
   return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

local raw = load_request()

wrk.format = function()
   return raw
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,' ..
      '"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,' ..
      '"p90_us":%d,"p99_us":%d,"mean_us":%.2f,"max_us":%d,"stdev_us":%.2f}\n',
      summary.requests, summary.duration, summary.bytes, e.connect,
      e.read, e.write, e.status, e.timeout, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency.mean,
      latency.max, latency.stdev))
end
