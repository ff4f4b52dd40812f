-- wrk script for the LLM benchmark: POST the OpenAI request in BODY_FILE with the API key in AUTH (as
-- `Authorization: Bearer ...`), and print the number of non-2xx answers at the end, so a fast stream of
-- errors (a 429, a 401) never passes for a fast gateway.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("AUTH")

function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
