-- reload.lua -- wrk script of tests/e2e/reload.sh: every request is the same
-- allowed CORS preflight, and every response is checked.
--
--   RELOAD_ORIGIN=https://app.example.com RELOAD_EXPECT='...' \
--     wrk -t2 -c8 -d10s -s tests/e2e/tools/reload.lua http://198.18.0.1:8080/
--
-- Environment (set by reload.sh):
--   RELOAD_ORIGIN  the Origin sent (default https://app.example.com)
--   RELOAD_PATH    the request target (default /api/v1/items/42)
--   RELOAD_EXPECT  the expected answer's CORS header set, as reload.sh
--                  builds it from a reference curl: every Access-Control-*,
--                  Vary and X-Answered-By header as "name: value" (name
--                  lower-case, value trimmed), sorted, joined by "|".
--                  Empty: only status, ACAO and Vary are checked.
--   RELOAD_VARY    the expected Vary value (exact)
--
-- A response is a mismatch unless: status 204, an empty body,
-- Access-Control-Allow-Origin exactly RELOAD_ORIGIN, Vary exactly
-- RELOAD_VARY, no X-Answered-By (the app's answer), and its header set
-- equal to RELOAD_EXPECT. At the end one parseable line is printed:
--   RELOADCHECK requests=N checked=N mismatches=N bad_status=N bad_acao=N
--     bad_vary=N bad_set=N app=N non2xx=N connect=N read=N write=N timeout=N
-- followed, if there was a mismatch, by "RELOADCHECK first: <details>".

local origin = os.getenv("RELOAD_ORIGIN") or "https://app.example.com"
local path = os.getenv("RELOAD_PATH") or "/api/v1/items/42"
local expect_set = os.getenv("RELOAD_EXPECT") or ""
local expect_vary = os.getenv("RELOAD_VARY") or
   "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, " ..
   "Access-Control-Request-Private-Network"

-- A Chromium-like preflight, header order kept (a Lua table would not).
local raw = table.concat({
   "OPTIONS " .. path .. " HTTP/1.1",
   "Host: api.example.com",
   "Connection: keep-alive",
   "Accept: */*",
   "Access-Control-Request-Method: PUT",
   "Access-Control-Request-Headers: content-type,x-request-id",
   "Origin: " .. origin,
   "User-Agent: Mozilla/5.0 (X11; Linux x86_64) preflightd-e2e-reload",
   "Sec-Fetch-Mode: cors",
   "Sec-Fetch-Site: same-site",
   "Sec-Fetch-Dest: empty",
   "Referer: " .. origin .. "/",
}, "\r\n") .. "\r\n\r\n"

-- static request: wrk.init calls wrk.format once per thread
wrk.format = function()
   return raw
end

-- per-thread counters (globals: done() reads them with thread:get)
checked, mismatches, bad_status, bad_acao, bad_vary, bad_set, app = 0, 0, 0, 0, 0, 0, 0
first = ""

local function header_set(headers)
   local l = {}
   for k, v in pairs(headers) do
      local n = string.lower(k)
      if n:match("^access%-control%-") or n == "vary" or n == "x-answered-by" then
         v = tostring(v):gsub("^%s+", ""):gsub("%s+$", "")
         l[#l + 1] = n .. ": " .. v
      end
   end
   table.sort(l)
   return table.concat(l, "|")
end

local function get(headers, name)
   for k, v in pairs(headers) do
      if string.lower(k) == name then
         return v
      end
   end
   return nil
end

function response(status, headers, body)
   checked = checked + 1
   local bad = {}
   if status ~= 204 then
      bad_status = bad_status + 1
      bad[#bad + 1] = "status " .. tostring(status)
   end
   if body ~= nil and #body > 0 then
      bad_status = bad_status + 1
      bad[#bad + 1] = "body of " .. #body .. " bytes"
   end
   local acao = get(headers, "access-control-allow-origin")
   if acao ~= origin then
      bad_acao = bad_acao + 1
      bad[#bad + 1] = "ACAO " .. tostring(acao)
   end
   local vary = get(headers, "vary")
   if vary ~= expect_vary then
      bad_vary = bad_vary + 1
      bad[#bad + 1] = "Vary " .. tostring(vary)
   end
   if get(headers, "x-answered-by") ~= nil then
      app = app + 1
      bad[#bad + 1] = "answered by the app"
   end
   local set = header_set(headers)
   if expect_set ~= "" and set ~= expect_set then
      bad_set = bad_set + 1
      bad[#bad + 1] = "headers {" .. set .. "}"
   end
   if #bad > 0 then
      mismatches = mismatches + 1
      if first == "" then
         first = table.concat(bad, "; ")
      end
   end
end

local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
end

function done(summary, latency, requests)
   local t = { checked = 0, mismatches = 0, bad_status = 0, bad_acao = 0,
               bad_vary = 0, bad_set = 0, app = 0 }
   local firsts = {}
   for _, th in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + (th:get(k) or 0)
      end
      local f = th:get("first")
      if f ~= nil and f ~= "" then
         firsts[#firsts + 1] = f
      end
   end
   local e = summary.errors
   io.write(string.format(
      "RELOADCHECK requests=%d checked=%d mismatches=%d bad_status=%d " ..
      "bad_acao=%d bad_vary=%d bad_set=%d app=%d non2xx=%d connect=%d " ..
      "read=%d write=%d timeout=%d\n",
      summary.requests, t.checked, t.mismatches, t.bad_status, t.bad_acao,
      t.bad_vary, t.bad_set, t.app, e.status, e.connect, e.read, e.write,
      e.timeout))
   for _, f in ipairs(firsts) do
      io.write("RELOADCHECK first: " .. f .. "\n")
   end
end
