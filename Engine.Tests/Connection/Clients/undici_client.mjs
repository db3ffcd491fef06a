// args: proxy wrong-proxy socks http-base https-base unresolvable-url body-file tls-proxy proxy-root-ca
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(process.env.NODE_CLIENTS_DIR + '/');
const { ProxyAgent, request } = require('undici');
const [proxy, wrong, , http, https, bad, body, tlsproxy, ca] = process.argv.slice(2);
function agent(url, tunnel, proxyCa) {
  const u = new URL(url);
  return new ProxyAgent({
    uri: `${u.protocol}//${u.host}`,
    token: 'Basic ' + Buffer.from(decodeURIComponent(u.username) + ':' + decodeURIComponent(u.password)).toString('base64'),
    proxyTunnel: tunnel,
    requestTls: { rejectUnauthorized: false },
    ...(proxyCa ? { proxyTls: { ca: proxyCa, servername: 'localhost' } } : {}),
  });
}
const plain = agent(proxy, false);
let r = await request(http + '/small', { dispatcher: plain }); await r.body.dump();
console.log('http', r.statusCode);
r = await request(https + '/small', { dispatcher: agent(proxy, true) }); await r.body.dump();
console.log('https', r.statusCode);
r = await request(http + '/echo', { dispatcher: plain, method: 'POST', body: readFileSync(body) }); await r.body.dump();
console.log('post', r.statusCode, r.headers['x-body-length']);
// undici surfaces the proxy's 407 as an error naming the status (proxy-agent.js), not as a response.
try {
  r = await request(http + '/small', { dispatcher: agent(wrong, false) }); await r.body.dump();
  console.log('wrongkey', r.statusCode);
} catch (e) {
  console.log('wrongkey', /\((\d{3})\)/.exec(e.message)?.[1] ?? e.message);
}
r = await request(bad, { dispatcher: plain }); await r.body.dump();
console.log('unresolvable', r.statusCode, r.headers['x-proxy-error']);
// TLS to the proxy, its chain verified against the root only (proxyTls); the test origin is not verified (requestTls).
const root = readFileSync(ca);
r = await request(http + '/small', { dispatcher: agent(tlsproxy, false, root) }); await r.body.dump();
console.log('tlsproxy', r.statusCode);
r = await request(https + '/small', { dispatcher: agent(tlsproxy, true, root) }); await r.body.dump();
console.log('tlsproxy-https', r.statusCode);
process.exit(0);
