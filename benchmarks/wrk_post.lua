-- wrk script: POST the body from the file named by BODY_FILE, as application/json unless CONTENT_TYPE
-- says otherwise; HEADER_LENGTH, when set, is sent as Inference-Header-Content-Length (the binary
-- tensor data extension). Prints the number of non-2xx/3xx answers at the end, so a fast stream of
-- errors never passes for throughput.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
local header_length = os.getenv("HEADER_LENGTH")
if header_length then
  wrk.headers["Inference-Header-Content-Length"] = header_length
end

function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
