// A WebSocket client through an HTTP CONNECT proxy, with the `ws`
// package (spec/egress.md §22 tests 48-50).  Usage:
//   node ws_client.mjs PROXY_PORT HOST PATH CA_FILE [--deflate] [--header N:V]
// Prints one JSON line: {"open", "status", "texts", "binary_ok", "close"}.
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(process.env.BB_MCP_DIR + '/package.json');
const WebSocket = require('ws');

const [proxyPort, host, path, caFile, ...rest] = process.argv.slice(2);
const headers = {};
let deflate = false;
for (let i = 0; i < rest.length; i++) {
	if (rest[i] === '--deflate') deflate = true;
	if (rest[i] === '--header') {
		const [n, ...v] = rest[++i].split(':');
		headers[n] = v.join(':').trim();
	}
}

function tunnel() {
	return new Promise((resolve, reject) => {
		const s = net.connect(Number(proxyPort), '127.0.0.1');
		let buf = '';
		s.once('error', reject);
		s.on('connect', () => s.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`));
		const onData = (d) => {
			buf += d.toString('latin1');
			const end = buf.indexOf('\r\n\r\n');
			if (end < 0) return;
			s.removeListener('data', onData);
			if (!/^HTTP\/1\.1 200/.test(buf)) return reject(new Error(buf.split('\r\n')[0]));
			resolve(tls.connect({ socket: s, servername: host, ca: fs.readFileSync(caFile), ALPNProtocols: ['http/1.1'] }));
		};
		s.on('data', onData);
	});
}

const out = { open: false, status: null, texts: [], binary_ok: null, close: null };
const done = () => { console.log(JSON.stringify(out)); process.exit(0); };
setTimeout(() => { out.timeout = true; done(); }, 8000);

const sock = await tunnel().catch((e) => { out.error = String(e); done(); });
const ws = new WebSocket(`wss://${host}${path}`, {
	createConnection: () => sock, perMessageDeflate: deflate, headers,
});
ws.on('unexpected-response', (req, res) => { out.status = res.statusCode; done(); });
ws.on('error', (e) => { out.error = String(e.message || e); });
ws.on('open', () => {
	out.open = true;
	ws.send('hello through the proxy');
	ws.send(Buffer.from([0, 1, 2, 254, 255]), { binary: true });
});
ws.on('message', (data, isBinary) => {
	if (isBinary) {
		out.binary_ok = Buffer.compare(data, Buffer.from([0, 1, 2, 254, 255])) === 0;
		ws.close(1000, 'bye');
	} else {
		out.texts.push(data.toString());
	}
});
ws.on('close', (code, reason) => { out.close = { code, reason: reason.toString() }; done(); });
