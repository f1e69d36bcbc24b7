-- wrk script: POST real drawings as the page does (JSON with a PNG data URL), each request a new client (no
-- cookie), cycling through the bodies in the folder given as the first script argument (body0.json, body1.json, ...).
-- It counts the responses per status; done() prints one JSON line with those, wrk's errors, the latency percentiles
-- and the drawing ids returned, so the benchmark can check them against what the server logged and stored.

local bodies = {}
local sent = 0
statuses = {}
ids = {}

function init(args)
  local folder = args[1]
  local i = 0
  while true do
    local f = io.open(folder .. "/body" .. i .. ".json", "rb")
    if not f then break end
    bodies[#bodies + 1] = f:read("*a")
    f:close()
    i = i + 1
  end
  assert(#bodies > 0, "no request bodies in " .. tostring(folder))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  -- Production serves HTTPS through a proxy that says so; the server is started trusting that header.
  wrk.headers["X-Forwarded-Proto"] = "https"
end

function request()
  sent = sent + 1
  return wrk.format(nil, nil, nil, bodies[(sent % #bodies) + 1])
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  local id = body and body:match('"id":%s*(%d+)')
  if id then ids[#ids + 1] = id end
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

local function json_list(items)
  return "[" .. table.concat(items, ",") .. "]"
end

function done(summary, latency, requests)
  local merged, all_ids = {}, {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
    for _, id in ipairs(thread:get("ids")) do all_ids[#all_ids + 1] = id end
  end
  local status_items = {}
  for status, count in pairs(merged) do status_items[#status_items + 1] = '"' .. status .. '":' .. count end
  local e = summary.errors
  io.write("WRK_RESULT ", "{",
    '"duration_us":', summary.duration, ",",
    '"requests":', summary.requests, ",",
    '"errors":{"connect":', e.connect, ',"read":', e.read, ',"write":', e.write, ',"status":', e.status,
    ',"timeout":', e.timeout, "},",
    '"statuses":{', table.concat(status_items, ","), "},",
    '"latency_us":{"p50":', latency:percentile(50), ',"p90":', latency:percentile(90), ',"p99":',
    latency:percentile(99), ',"mean":', latency.mean, ',"max":', latency.max, "},",
    '"ids":', json_list(all_ids), "}\n")
end
