-- Counts the responses of a wrk run by status, across wrk's threads: a script that includes
-- this file calls statuses() in its `done` for the totals { n401, n429, n503, nother }.
local threads = {}
setup = function(thread) table.insert(threads, thread) end
response = function(status)
  if status == 401 then n401 = (n401 or 0) + 1
  elseif status == 429 then n429 = (n429 or 0) + 1
  elseif status == 503 then n503 = (n503 or 0) + 1
  else nother = (nother or 0) + 1 end
end
statuses = function()
  local t = { n401 = 0, n429 = 0, n503 = 0, nother = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  return t
end
