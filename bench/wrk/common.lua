-- Shared by the wrk scripts of bench/load.py: reading a request list, per-thread counters, and
-- the JSON line that done() prints for load.py to parse.
--
-- A request list is a text file, one request a line, fields separated by tabs:
--     METHOD <tab> PATH <tab> BODY <tab> Header: value <tab> Header: value ...
-- BODY may be empty. In a body, {phone} becomes a random mainland mobile number and {n} a
-- number unique to the thread, so that every write really changes something.
local common = {}

-- Every request carries this User-Agent: the staff session cookies were signed for it
-- (Flask-Login's "strong" session protection ties a session to address and User-Agent).
common.user_agent = "subsidy-bench/1 (wrk)"

function common.read_requests(path)
  local list = {}
  for line in io.lines(path) do
    if line ~= "" then
      local fields = {}
      for field in (line .. "\t"):gmatch("([^\t]*)\t") do
        fields[#fields + 1] = field
      end
      local headers = { ["User-Agent"] = common.user_agent }
      for i = 4, #fields do
        local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
        if name then headers[name] = value end
      end
      local body = fields[3] or ""
      local item = { method = fields[1], path = fields[2], headers = headers, body = body }
      if not (body:find("{phone}", 1, true) or body:find("{n}", 1, true)) then
        -- Nothing to fill in: format the request once.
        item.raw = wrk.format(item.method, item.path, headers, body ~= "" and body or nil)
      end
      list[#list + 1] = item
    end
  end
  if #list == 0 then
    error("no requests in " .. path)
  end
  return list
end

local sequence = 0

function common.format(item)
  if item.raw then
    return item.raw
  end
  sequence = sequence + 1
  local body = item.body
  body = body:gsub("{phone}", function()
    return "139" .. string.format("%08d", math.random(0, 99999999))
  end)
  body = body:gsub("{n}", tostring(sequence))
  return wrk.format(item.method, item.path, item.headers, body)
end

-- Counters kept per thread (each wrk thread has its own Lua state, and done() reads them from
-- each thread by the global's name) and summed in done().
counters = {}

function common.count(name, by)
  counters[name] = (counters[name] or 0) + (by or 1)
end

local threads = {}

function common.setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function json_value(value)
  if type(value) == "table" then
    local parts = {}
    for k, v in pairs(value) do
      parts[#parts + 1] = json_string(tostring(k)) .. ":" .. json_value(v)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(value) == "number" then
    if value ~= value or value == math.huge or value == -math.huge then
      return "null"
    end
    return string.format("%.17g", value)
  elseif type(value) == "boolean" then
    return tostring(value)
  elseif value == nil then
    return "null"
  end
  return json_string(tostring(value))
end

-- One line, "WRK_JSON {...}": latencies in milliseconds, throughput in requests per second.
function common.done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local counters = thread:get("counters") or {}
    for name, n in pairs(counters) do
      totals[name] = (totals[name] or 0) + n
    end
  end
  local seconds = summary.duration / 1e6
  local out = {
    requests = summary.requests,
    seconds = seconds,
    rps = summary.requests / seconds,
    bytes = summary.bytes,
    p50_ms = latency:percentile(50) / 1000,
    p90_ms = latency:percentile(90) / 1000,
    p95_ms = latency:percentile(95) / 1000,
    p99_ms = latency:percentile(99) / 1000,
    mean_ms = latency.mean / 1000,
    max_ms = latency.max / 1000,
    errors = {
      connect = summary.errors.connect,
      read = summary.errors.read,
      write = summary.errors.write,
      status = summary.errors.status, -- responses other than 2xx/3xx
      timeout = summary.errors.timeout,
    },
    counters = totals,
  }
  io.write("WRK_JSON " .. json_value(out) .. "\n")
end

return common
