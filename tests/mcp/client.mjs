// The official MCP TypeScript SDK as the agent's client, for the
// supervise integration tests (spec/supervise.md §10).  Prints one JSON
// object per line on stdout, as things happen, so a shell test can act
// (approve, kill) while a call waits.
//
//   node client.mjs handshake URL
//   node client.mjs call URL TOOL ARGS_JSON [--progress] [--abort-ms N]
//                                          [--timeout-ms N] [--session ID]
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from
    "@modelcontextprotocol/sdk/client/streamableHttp.js";

const t0 = Date.now();
function out(obj) {
	process.stdout.write(JSON.stringify({ t: Date.now() - t0, ...obj }) +
	    "\n");
}

async function connect(url, sessionId) {
	const transport = new StreamableHTTPClientTransport(new URL(url),
	    sessionId ? { sessionId } : {});
	const client = new Client({ name: "bb-sdk-test", version: "1.0.0" });
	await client.connect(transport);
	return { client, transport };
}

async function handshake(url) {
	const { client, transport } = await connect(url);
	const info = client.getServerVersion();
	const { tools } = await client.listTools();
	out({
		event: "handshake",
		name: info?.name,
		serverVersion: info?.version,
		protocolVersion: transport.protocolVersion,
		sessionId: transport.sessionId,
		tools: tools.map((t) => ({
			name: t.name,
			description: typeof t.description === "string" &&
			    t.description.length > 0,
			inputSchema: t.inputSchema?.type,
			outputSchema: typeof t.outputSchema === "object",
			title: t.title,
		})),
	});
	await transport.terminateSession();
	out({ event: "terminated", sessionId: transport.sessionId ?? null });
	await client.close();
	out({ event: "closed" });
}

async function call(url, tool, args, opts) {
	const { client, transport } = await connect(url, opts.session);
	out({ event: "connected", sessionId: transport.sessionId });
	const ac = new AbortController();
	const ro = { signal: ac.signal, timeout: opts.timeoutMs };
	if (opts.progress) {
		ro.onprogress = (p) => out({ event: "progress", ...p });
		ro.resetTimeoutOnProgress = true;
	}
	if (opts.abortMs > 0)
		setTimeout(() => { out({ event: "aborting" }); ac.abort(); },
		    opts.abortMs);
	try {
		const r = await client.callTool({ name: tool, arguments: args },
		    undefined, ro);
		out({ event: "result", result: r });
	} catch (e) {
		out({ event: "error", message: String(e?.message ?? e),
		    code: e?.code ?? null });
	}
	// Give a cancellation notification time to leave.
	await new Promise((r) => setTimeout(r, 200));
	await client.close();
	out({ event: "closed" });
}

async function main() {
	const [cmd, url, ...rest] = process.argv.slice(2);
	if (cmd === "handshake")
		return handshake(url);
	if (cmd === "call") {
		const [tool, argsJson, ...flags] = rest;
		const opts = { progress: false, abortMs: 0, timeoutMs: 120000,
		    session: undefined };
		for (let i = 0; i < flags.length; i++) {
			if (flags[i] === "--progress")
				opts.progress = true;
			else if (flags[i] === "--abort-ms")
				opts.abortMs = Number(flags[++i]);
			else if (flags[i] === "--timeout-ms")
				opts.timeoutMs = Number(flags[++i]);
			else if (flags[i] === "--session")
				opts.session = flags[++i];
		}
		return call(url, tool, JSON.parse(argsJson), opts);
	}
	throw new Error(`unknown command ${cmd}`);
}

main().then(() => process.exit(0), (e) => {
	out({ event: "fatal", message: String(e?.stack ?? e) });
	process.exit(1);
});
