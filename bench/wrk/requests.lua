-- GETs from a request list, each thread going round it from its own starting point, so that
-- consecutive requests come from different signed-in users (a cookie or token per line).
--     wrk -s bench/wrk/requests.lua URL -- LIST_FILE
-- Counts responses by status (counters "status_200", ...) and prints one JSON line when done.
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local common = dofile(here .. "common.lua")

local list, index

function setup(thread)
  common.setup(thread)
end

function init(args)
  list = common.read_requests(args[1])
  -- wrk.thread's id is set in setup(); spread the threads over the list.
  index = ((tonumber(id) or 1) - 1) * math.floor(#list / 2) % #list
end

function request()
  index = index % #list + 1
  return common.format(list[index])
end

function response(status, headers, body)
  common.count("status_" .. status)
end

done = common.done
