// Node's undici through HTTPS_PROXY with EnvHttpProxyAgent; the bottle CA
// comes from NODE_EXTRA_CA_CERTS (spec/egress.md §22 test 47).
import { createRequire } from 'node:module';
const require = createRequire(process.env.BB_MCP_DIR + '/package.json');
const { EnvHttpProxyAgent, fetch } = require('undici');

const res = await fetch(process.argv[2], { dispatcher: new EnvHttpProxyAgent() });
const body = await res.text();
console.log(JSON.stringify({ status: res.status, body: body.slice(0, 2000) }));
