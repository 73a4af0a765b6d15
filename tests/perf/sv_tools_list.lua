-- wrk script of `make perf` (spec/supervise.md §11.1): POST tools/list
-- on one MCP session (SV_SID), counting every answer that is not 200.
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = os.getenv("SV_SID")
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"

local threads = {}
function setup(thread)
	thread:set("bad", 0)
	table.insert(threads, thread)
end

function init(args)
	bad = 0
end

function response(status, headers, body)
	if status ~= 200 then
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local n = 0
	for _, t in ipairs(threads) do
		n = n + t:get("bad")
	end
	io.write(string.format("SVPERF requests=%d non200=%d errors=%d p50_us=%d p99_us=%d max_us=%d duration_us=%d\n",
	    summary.requests, n, summary.errors.connect + summary.errors.read +
	    summary.errors.write + summary.errors.timeout + summary.errors.status,
	    latency:percentile(50), latency:percentile(99), latency.max,
	    summary.duration))
end
