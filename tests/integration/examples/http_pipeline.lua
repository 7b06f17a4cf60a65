-- http_pipeline.lua: wrk sends 16 requests per write (HTTP/1.1 pipelining);
-- used by http_clients.sh.  Based on the pipelining example shipped with wrk.
init = function(args)
  local r = {}
  for i = 1, 16 do
    r[i] = wrk.format(nil, "/hello")
  end
  req = table.concat(r)
end

request = function()
  return req
end
