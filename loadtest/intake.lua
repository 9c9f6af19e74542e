-- loadtest/intake.lua: wrk script for the intake rate of POST /api/notifications.
--
-- Every request is a new notification (no Idempotency-Key: each one is stored and published),
-- an SMS by default (WAVECOM_LOADTEST_TYPE=EMAIL for email), one in ten HIGH priority. The key
-- comes from WAVECOM_LOADTEST_KEY. Every id a 201 returned is appended to a file per thread in
-- WAVECOM_LOADTEST_IDS_DIR (when set), for intake.sh's reconciliation. WAVECOM_LOADTEST_DELAY_MS
-- makes each connection wait that long before each request: the paced run at a fraction of the
-- maximum rate. At the end it prints the 201s, the other answers by status, the rate of 201s and
-- the latency percentiles, as "name value" lines that intake.sh reads.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  created = 0
  other = 0
  statuses = ""
  kind = os.getenv("WAVECOM_LOADTEST_TYPE") or "SMS"
  pause = tonumber(os.getenv("WAVECOM_LOADTEST_DELAY_MS") or "0")
  local dir = os.getenv("WAVECOM_LOADTEST_IDS_DIR")
  if dir then
    ids = assert(io.open(string.format("%s/thread-%d.txt", dir, id), "a"))
    ids:setvbuf("line")
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WAVECOM_LOADTEST_KEY") or "")
end

function request()
  counter = counter + 1
  local priority = (counter % 10 == 0) and "HIGH" or "MEDIUM"
  local body
  if kind == "EMAIL" then
    body = string.format(
      '{"type":"EMAIL","recipient":"load-%d-%d@example.com","subject":"Load %d","message":"Load test %d-%d","priority":"%s","metadata":{"thread":%d,"n":%d}}',
      id, counter, counter, id, counter, priority, id, counter)
  else
    body = string.format(
      '{"type":"SMS","recipient":"+1415%07d","message":"Load test %d-%d","priority":"%s","metadata":{"thread":%d,"n":%d}}',
      (id * 1000000 + counter) % 10000000, id, counter, priority, id, counter)
  end
  return wrk.format(nil, nil, nil, body)
end

function delay()
  return pause
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
    if ids then
      ids:write((string.match(body, '"_id":"(%x+)"') or "?"), "\n")
    end
  else
    other = other + 1
    if other <= 5 then
      statuses = statuses .. status .. " "
    end
  end
end

function done(summary, latency, requests)
  local c, o, s = 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
    s = s .. t:get("statuses")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("created_201 %d\n", c))
  io.write(string.format("other_answers %d %s\n", o, s))
  io.write(string.format("socket_errors %d\n", summary.errors.connect + summary.errors.read +
                                                 summary.errors.write + summary.errors.timeout))
  io.write(string.format("rate_201 %.1f\n", c / seconds))
  for _, p in ipairs({50, 90, 95, 99, 99.9}) do
    io.write(string.format("p%s_ms %.2f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("max_ms %.2f\n", latency.max / 1000))
end
