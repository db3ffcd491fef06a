// args: proxy wrong-proxy socks http-base https-base unresolvable-url body-file
import { createRequire } from 'node:module';
const require = createRequire(process.env.NODE_CLIENTS_DIR + '/');
const { chromium } = require('playwright-core');
const [proxy, wrong, , http, https, bad] = process.argv.slice(2);
async function browser(url) {
  const u = new URL(url);
  return chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--no-sandbox'],
    // Chromium never proxies loopback unless told to: <-loopback> removes that implicit bypass.
    proxy: { server: `${u.protocol}//${u.host}`, username: decodeURIComponent(u.username), password: decodeURIComponent(u.password), bypass: '<-loopback>' },
  });
}
const b = await browser(proxy);
const page = await (await b.newContext({ ignoreHTTPSErrors: true })).newPage();
console.log('http', (await page.goto(http + '/small')).status());
const posted = await page.evaluate(async () => {
  const r = await fetch('/echo', { method: 'POST', body: new Uint8Array(1 << 20) });
  return r.status + ' ' + r.headers.get('x-body-length');
});
console.log('post', posted);
console.log('https', (await page.goto(https + '/small')).status());
const failed = await page.goto(bad);
console.log('unresolvable', failed.status(), (await failed.allHeaders())['x-proxy-error']);
await b.close();
const w = await browser(wrong);
const wpage = await (await w.newContext()).newPage();
const denied = await wpage.goto(http + '/small').catch(e => ({ status: () => e.message.split('\n')[0] }));
console.log('wrongkey', denied.status());
await w.close();
process.exit(0);
