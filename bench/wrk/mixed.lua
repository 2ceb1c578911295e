-- The SQLite lock test: reads and writes mixed in a fixed proportion, from two request lists.
--     wrk -s bench/wrk/mixed.lua URL -- READS_FILE WRITES_FILE WRITE_PERCENT
-- Every request is a read except that writes come due at WRITE_PERCENT per 100 requests per
-- thread (exactly, not at random). The write lists' bodies carry {phone}/{n} so that each write
-- changes a row. Counters: responses by status, acknowledged writes by kind ("ack_case": 201
-- with a ref_no; "ack_household": 200 with a household), and responses whose body says
-- "database is locked" ("locked_body").
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local common = dofile(here .. "common.lua")

local reads, writes, percent
local r, w, due = 0, 0, 0

function setup(thread)
  common.setup(thread)
end

function init(args)
  reads = common.read_requests(args[1])
  writes = common.read_requests(args[2])
  percent = tonumber(args[3] or "10")
  local offset = (tonumber(id) or 1) - 1
  math.randomseed(os.time() + offset * 7919)
  r = offset * math.floor(#reads / 2) % #reads
  w = offset * math.floor(#writes / 2) % #writes
end

function request()
  due = due + percent
  if due >= 100 then
    due = due - 100
    w = w % #writes + 1
    common.count("sent_write")
    return common.format(writes[w])
  end
  r = r % #reads + 1
  common.count("sent_read")
  return common.format(reads[r])
end

function response(status, headers, body)
  common.count("status_" .. status)
  if body and body:find("database is locked", 1, true) then
    common.count("locked_body")
  end
  if status == 201 and body and body:find('"ref_no"', 1, true) then
    common.count("ack_case")
  elseif status == 200 and body and body:sub(1, 1) == "{" and not body:find('"items"', 1, true)
      and body:find('"id_number"', 1, true) then
    common.count("ack_household")
  end
end

done = common.done
