// A scripted WebSocket client through an HTTP CONNECT proxy, for the
// scanning tests (spec/egress.md §22 tests 49-50).  Usage:
//   node ws_probe.mjs PROXY_PORT HOST PATH CA_FILE [--header N:V]...
//        [--frag TEXT] [--send TEXT] [--wait MS]
// --frag sends TEXT as one message in three fragments; --send as one
// frame.  Prints {"open","status","received":[...],"close":{code,reason}}.
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(process.env.BB_MCP_DIR + '/package.json');
const WebSocket = require('ws');

const [proxyPort, host, path, caFile, ...rest] = process.argv.slice(2);
const headers = {};
const sends = [];
let wait = 1500;
for (let i = 0; i < rest.length; i++) {
	if (rest[i] === '--header') {
		const [n, ...v] = rest[++i].split(':');
		headers[n] = v.join(':').trim();
	} else if (rest[i] === '--frag') sends.push({ frag: true, text: rest[++i] });
	else if (rest[i] === '--send') sends.push({ frag: false, text: rest[++i] });
	else if (rest[i] === '--wait') wait = Number(rest[++i]);
}

const out = { open: false, status: null, received: [], close: null };
const done = () => { console.log(JSON.stringify(out)); process.exit(0); };
setTimeout(done, wait + 8000);

const sock = await new Promise((resolve, reject) => {
	const s = net.connect(Number(proxyPort), '127.0.0.1');
	let buf = '';
	s.once('error', reject);
	s.on('connect', () => s.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`));
	const onData = (d) => {
		buf += d.toString('latin1');
		if (buf.indexOf('\r\n\r\n') < 0) return;
		s.removeListener('data', onData);
		if (!/^HTTP\/1\.1 200/.test(buf)) return reject(new Error(buf.split('\r\n')[0]));
		resolve(tls.connect({ socket: s, servername: host, ca: fs.readFileSync(caFile), ALPNProtocols: ['http/1.1'] }));
	};
	s.on('data', onData);
}).catch((e) => { out.error = String(e); done(); });

const ws = new WebSocket(`wss://${host}${path}`, { createConnection: () => sock, perMessageDeflate: false, headers });
ws.on('unexpected-response', (req, res) => { out.status = res.statusCode; done(); });
ws.on('error', (e) => { out.error = String(e.message || e); });
ws.on('open', () => {
	out.open = true;
	for (const s of sends) {
		if (s.frag) {
			const n = Math.ceil(s.text.length / 3);
			ws.send(s.text.slice(0, n), { fin: false });
			ws.send(s.text.slice(n, 2 * n), { fin: false });
			ws.send(s.text.slice(2 * n), { fin: true });
		} else ws.send(s.text);
	}
	setTimeout(() => ws.close(1000, 'bye'), wait);
});
ws.on('message', (data, isBinary) => out.received.push(isBinary ? '<binary>' : data.toString()));
ws.on('close', (code, reason) => { out.close = { code, reason: reason.toString() }; done(); });
