-- wrk script: POST the JSON body from the file named by BODY_FILE as application/json, and print the
-- number of non-2xx/3xx answers at the end, so a fast stream of errors never passes for throughput.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
