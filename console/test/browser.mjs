// Browser test of the console, run by t/250-console.t (which starts the
// controller, MinIO, nginx and the function servers and passes their
// addresses in the environment). Drives Debian's Chromium through
// puppeteer-core; prints one "RESULT {json}" line per step, which the .t
// turns into a TAP assertion, and writes a screenshot of each page.
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const E = process.env;
const CONSOLE = E.CONSOLE_URL;
const API = E.API_URL;
const ADMIN = E.ADMIN_TOKEN;
const BUCKET = E.BUCKET;
const RESULTS = E.RESULTS_DIR;
const TMP = mkdtempSync(join(E.TMP_DIR, 'browser-'));

let failed = 0;
let shot = 0;

function report(ok, name, diag = '') {
  if (!ok) failed++;
  process.stdout.write(`RESULT ${JSON.stringify({ ok, name, diag })}\n`);
}

async function step(name, fn) {
  try {
    await fn();
    report(true, name);
  } catch (e) {
    report(false, name, String(e?.stack ?? e).slice(0, 2000));
    try { await screenshot(`fail-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}`); } catch { /* gone */ }
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function api(method, path, body, token = ADMIN) {
  const r = await fetch(API + path, {
    method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

const browser = await puppeteer.launch({
  executablePath: E.CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 900 });
page.setDefaultTimeout(15000);
page.on('dialog', (d) => d.accept());
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));
const requests = [];
page.on('request', (r) => requests.push({ url: r.url(), auth: r.headers().authorization ?? '' }));

async function screenshot(name) {
  shot++;
  await page.screenshot({ path: join(RESULTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}
const text = () => page.evaluate(() => document.body.innerText);
async function waitText(s, timeout = 15000) {
  await page.waitForFunction((t) => document.body.innerText.includes(t), { timeout }, s);
}
async function go(pageName) {
  // A hash set while the page reloads (a viewport change that switches
  // mobile emulation reloads it) is lost: set it again until the page shows it.
  const sel = `nav a[aria-current="page"][href="#/${pageName.split('/')[0]}"]`;
  for (let attempt = 0; ; attempt++) {
    await page.waitForSelector('nav', { timeout: 30000 });
    await page.evaluate((p) => { location.hash = `#/${p}`; }, pageName);
    try {
      await page.waitForSelector(sel, { timeout: attempt < 2 ? 10000 : 30000 });
      return;
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
}
async function fill(sel, value) {
  await page.waitForSelector(sel);
  // As a person would: select what is there, erase it, type.
  await page.click(sel, { clickCount: 3 });
  await page.keyboard.press('Backspace');
  if (value) await page.type(sel, value);
}
async function clickButton(label, scope = 'body', timeout = 10000) {
  // Waits for it: a page may still be loading the list the button is in.
  const find = (l, sc) => [...document.querySelector(sc).querySelectorAll('button')].find((x) =>
    (x.getAttribute('aria-label') ?? x.textContent.trim()) === l && !x.disabled);
  const found = await page.waitForFunction(`(${find})(${JSON.stringify(label)}, ${JSON.stringify(scope)})`,
    { timeout }).then(() => true, () => false);
  assert(found, `no enabled button "${label}" in ${scope}`);
  await page.evaluate(`(${find})(${JSON.stringify(label)}, ${JSON.stringify(scope)}).click()`);
}
// axe-core's WCAG 2 A/AA rules on the page as it is; serious and critical
// findings are returned as text (evaluated through DevTools, which the
// console's CSP does not block).
async function a11y(where) {
  await page.evaluate(AXE);
  const v = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
    return r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')
      .map((x) => `${x.id}: ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  return v.map((x) => `${where}: ${x}`);
}

// Selects an option once it is there (options may come from a list still loading).
async function choose(sel, value) {
  await page.waitForSelector(`${sel} option[value="${value}"]`);
  const got = await page.select(sel, value);
  assert(got.includes(value), `${sel}: ${value} not selected`);
}

async function signIn(token) {
  await fill('input[name=token]', token);
  await page.click('main.signin button[type=submit]');
}

// ---------------------------------------------------------------- sign in
await step('the sign-in page loads from /ui/ with no script errors', async () => {
  await page.goto(CONSOLE, { waitUntil: 'networkidle0' });
  await page.waitForSelector('input[name=token][type=password]');
  const label = await page.$eval('label[for]', (l) => l.textContent);
  assert(label.includes('API token'), 'the token field has a label');
  await screenshot('signin');
  assert(consoleErrors.length === 0, consoleErrors.join('; '));
});

await step('a wrong token is refused and not kept', async () => {
  await signIn('wrong-token');
  await waitText('refused this token');
  const kept = await page.evaluate(() => sessionStorage.length + localStorage.length);
  assert(kept === 0, 'nothing stored');
  await screenshot('signin-refused');
});

await step('the admin token signs in; kept in sessionStorage only, never in a URL', async () => {
  await signIn(ADMIN);
  await page.waitForSelector('[data-role=admin]');
  const st = await page.evaluate(() => ({ s: sessionStorage.getItem('fado.token'), l: localStorage.length, u: location.href }));
  assert(st.s === ADMIN, 'in sessionStorage');
  assert(st.l === 0, 'localStorage is empty');
  assert(!st.u.includes(ADMIN), 'not in the URL');
});

await step('the overview shows the live summary of an empty platform', async () => {
  await page.waitForSelector('[data-count=ready]');
  await waitText('0 clusters');
  await screenshot('overview-empty');
});

// ---------------------------------------------------------------- zones and clusters
await step('zones eu and us are created on the Clusters page', async () => {
  await go('clusters');
  for (const z of ['eu', 'us']) {
    await fill('input[name=zone-name]', z);
    await clickButton('Add zone');
    await page.waitForSelector(`li[data-zone="${z}"]`);
  }
});

async function createCluster(name, zone, fn, i) {
  await clickButton('New cluster');
  await page.waitForSelector('form[data-form=cluster]');
  await fill('form[data-form=cluster] input[name=name]', name);
  await choose('form[data-form=cluster] select[name=zone]', zone);
  await clickButton('Add an endpoint');
  await fill('input[name=fn-address-0]', fn);
  await fill('input[name=storage-endpoint]', E[`MINIO${i}_ENDPOINT`]);
  await fill('input[name=access-key]', E[`MINIO${i}_ACCESS_KEY`]);
  await fill('input[name=secret-key]', E[`MINIO${i}_SECRET_KEY`]);
  await clickButton('Create cluster');
  await page.waitForSelector(`tr[data-cluster="${name}"]`);
}

await step('a bad endpoint address is shown next to the field it names', async () => {
  await clickButton('New cluster');
  await fill('form[data-form=cluster] input[name=name]', 'bad-1');
  await choose('form[data-form=cluster] select[name=zone]', 'eu');
  await clickButton('Add an endpoint');
  await fill('input[name=fn-address-0]', 'not-an-address');
  await clickButton('Create cluster');
  await page.waitForSelector('[data-field="functions[0].address"] .field-error');
  const msg = await page.$eval('[data-field="functions[0].address"] .field-error', (e) => e.textContent);
  assert(msg.includes('functions[0].address'), msg);
  const inv = await page.$eval('input[name=fn-address-0]', (e) => e.getAttribute('aria-invalid'));
  assert(inv === 'true', 'the input is marked invalid');
  await screenshot('cluster-field-error');
  await clickButton('Cancel');
  const { status } = await api('GET', '/v1/clusters/bad-1');
  assert(status === 404, 'nothing was created');
});

await step('clusters eu-1 and us-1 are created with endpoints and storage', async () => {
  await createCluster('eu-1', 'eu', E.FN_EU, 0);
  await createCluster('us-1', 'us', E.FN_US, 1);
  const row = await page.$eval('tr[data-cluster="eu-1"]', (e) => e.innerText);
  assert(row.includes(E.FN_EU) && row.includes('credentials: set'), row);
  assert(!row.includes(E.MINIO0_SECRET_KEY), 'the secret is not shown');
  const link = await page.$eval('tr[data-cluster="eu-1"] a[target=_blank]', (a) => a.href);
  assert(link.startsWith(E.MINIO0_ENDPOINT), `MinIO console link: ${link}`);
  await screenshot('clusters');
});

await step('a concurrent edit is shown as a conflict, and nothing is overwritten', async () => {
  await clickButton('Edit cluster eu-1');
  await page.waitForSelector('form[data-form=cluster] input[name=storage-endpoint]');
  // Someone else changes eu-1 meanwhile (weight 2), through the API.
  const cur = (await api('GET', '/v1/clusters/eu-1')).json;
  const put = await api('PUT', '/v1/clusters/eu-1', { zone: 'eu', version: cur.version,
    functions: [{ address: E.FN_EU, weight: 2 }], storage: { endpoint: E.MINIO0_ENDPOINT } });
  assert(put.status === 200, `concurrent PUT ${put.status}`);
  await fill('input[name=fn-weight-0]', '5');
  await clickButton('Save changes');
  await waitText('Conflict');
  await waitText('Someone changed it since you opened it');
  await screenshot('cluster-conflict');
  const now = (await api('GET', '/v1/clusters/eu-1')).json;
  assert(now.functions[0].weight === 2, 'their change stands');
  assert(now.storage.credentials_set, 'credentials kept');
  await clickButton('Reload their version');
  await waitText(`Edit cluster eu-1 (version ${now.version})`);
  const w = await page.$eval('input[name=fn-weight-0]', (e) => e.value);
  assert(w === '2', `the form shows their weight, got ${w}`);
  await clickButton('Cancel');
});

// ---------------------------------------------------------------- buckets
await step('the placement preview follows the form: unsatisfiable, then satisfiable', async () => {
  await go('buckets');
  await clickButton('New bucket');
  await fill('form[data-form=bucket] input[name=name]', BUCKET);
  await choose('form[data-form=bucket] select[name=home_cluster]', 'eu-1');
  await fill('input[name=replicas]', '3');
  await page.waitForSelector('[data-preview=unsatisfiable]');
  await waitText('eligible clusters');
  await screenshot('bucket-preview-unsatisfiable');
  await fill('input[name=replicas]', '2');
  await page.waitForSelector('[data-preview=satisfiable]');
  const chosen = await page.$$eval('[data-preview-cluster]', (x) => x.map((e) => e.dataset.previewCluster));
  assert(chosen.join() === 'eu-1,us-1', `preview clusters ${chosen}`);
  await screenshot('bucket-preview');
});

await step('the bucket is created and both replicas become ready', async () => {
  await clickButton('Create bucket');
  await page.waitForSelector(`[data-bucket-detail="${BUCKET}"]`);
  await page.waitForFunction(() =>
    document.querySelectorAll('tr[data-replica][data-state=ready]').length === 2, { timeout: 90000 });
  await page.waitForSelector(`[data-route="${BUCKET}"]`, { timeout: 20000 });
  // The route is published a moment after the replica turns ready; the page
  // reloads it every 2 s: wait for it to list both clusters' endpoints.
  await page.waitForFunction((sel, a, b) => {
    const e = document.querySelector(sel);
    return e && e.innerText.includes(a) && e.innerText.includes(b);
  }, { timeout: 20000 }, `[data-route="${BUCKET}"]`, E.FN_EU, E.FN_US).catch(() => {});
  const route = await page.$eval(`[data-route="${BUCKET}"]`, (e) => e.innerText);
  assert(route.includes(E.FN_EU) && route.includes(E.FN_US), `route: ${route}`);
  await screenshot('bucket-ready');
});

await step('the overview counts the ready bucket and replicas', async () => {
  await go('overview');
  await page.waitForFunction(() => {
    const b = document.querySelector('section[aria-labelledby="c-Buckets"] [data-count=ready] dd');
    const r = document.querySelector('section[aria-labelledby="c-Replicas"] [data-count=ready] dd');
    return b?.textContent === '1' && r?.textContent === '2';
  }, { timeout: 10000 });
  await page.waitForSelector('[data-zone=eu] [data-cluster="eu-1"]');
  await screenshot('overview');
});

await step('editing a placement previews what would move before saving', async () => {
  await go('buckets');
  await clickButton(`Edit bucket ${BUCKET}`);
  await page.waitForSelector('[data-preview=satisfiable]');
  await fill('input[name=replicas]', '1');
  await page.waitForFunction(() => document.querySelector('[data-preview-remove]')?.textContent === 'us-1');
  const add = await page.$eval('[data-preview-add]', (e) => e.textContent);
  assert(add === 'nothing', `adds ${add}`);
  await screenshot('bucket-edit-preview');
  await clickButton('Cancel');
  const b = (await api('GET', `/v1/buckets/${BUCKET}`)).json;
  assert(b.placement.replicas === 2, 'nothing saved by previewing');
});

// ---------------------------------------------------------------- objects
const payload = randomBytes(3 * 1024 * 1024 + 17);
const SRC = mkdtempSync(join(TMP, 'src-'));
const file = join(SRC, 'photo.bin');
writeFileSync(file, payload);

await step('an object is uploaded through the page, with progress, and listed', async () => {
  await go(`objects/${BUCKET}`);
  await page.waitForSelector(`select[name=bucket] option[value="${BUCKET}"]`);
  const input = await page.waitForSelector('input[name=file]');
  await input.uploadFile(file);
  await fill('input[name=key]', '2026/photo.bin');
  await clickButton('Upload');
  await waitText('Uploaded 2026/photo.bin', 60000);
  await page.waitForSelector('tr[data-object="2026/photo.bin"]');
  await screenshot('objects');
});

await step('browsing by prefix narrows the listing', async () => {
  await fill('input[name=prefix]', '2026/');
  await clickButton('Browse');
  await page.waitForSelector('tr[data-object="2026/photo.bin"]');
  await fill('input[name=prefix]', 'nothing-here/');
  await clickButton('Browse');
  await waitText('No objects under "nothing-here/"');
  await fill('input[name=prefix]', '');
  await clickButton('Browse');
  await page.waitForSelector('tr[data-object="2026/photo.bin"]');
});

await step('the object downloads through the API with the same bytes', async () => {
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: TMP });
  await clickButton('Download 2026/photo.bin');
  await waitText('Downloaded 2026/photo.bin', 30000);
  const deadline = Date.now() + 15000;
  let got = null;
  while (Date.now() < deadline) {
    if (readdirSync(TMP).includes('photo.bin') && statSync(join(TMP, 'photo.bin')).size === payload.length) {
      got = readFileSync(join(TMP, 'photo.bin'));
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert(got && Buffer.compare(got, payload) === 0, `downloaded file ${readdirSync(TMP)}`);
});

await step("once the index lists the replica's copy, a download from zone us is served by us-1", async () => {
  // us-1's MinIO reports the replicated version through the webhook.
  const deadline = Date.now() + 40000;
  let where = '';
  while (Date.now() < deadline && !where.includes('us-1')) {
    await clickButton('Refresh');
    await new Promise((r) => setTimeout(r, 500));
    where = await page.$eval('tr[data-object="2026/photo.bin"]', (e) => e.innerText).catch(() => '');
  }
  assert(where.includes('us-1'), `listing: ${where}`);
  await choose('select[name=zone]', 'us');
  await clickButton('Download 2026/photo.bin');
  await waitText('served by us-1', 30000);
  await choose('select[name=zone]', '');
});

await step('the object details show its version and where it is, per cluster', async () => {
  await clickButton('Details of 2026/photo.bin');
  await page.waitForSelector('[data-meta="2026/photo.bin"] tr[data-location="eu-1"]');
  const v = await page.$eval('[data-meta="2026/photo.bin"] [data-version]', (e) => e.textContent);
  assert(v && v !== '(unversioned)', `version ${v}`);
  await page.waitForSelector('tr[data-location="eu-1"][data-present=true]');
  await screenshot('object-details');
});

await step('the object is deleted from the page', async () => {
  await clickButton('Delete 2026/photo.bin');
  await waitText('Deleted 2026/photo.bin');
  await page.waitForFunction(() => !document.querySelector('tr[data-object="2026/photo.bin"]'));
});

// ---------------------------------------------------------------- balancing
await step('a policy override changes the published route', async () => {
  const before = (await api('GET', `/v1/routes/${BUCKET}`)).json;
  await go('balancing');
  await page.waitForSelector(`select[name="policy-${BUCKET}"]`);
  await choose(`select[name="policy-${BUCKET}"]`, 'lc');
  await clickButton(`Save policy of ${BUCKET}`);
  await waitText(`Policy of ${BUCKET} is now lc`);
  const deadline = Date.now() + 20000;
  let policy = '';
  while (Date.now() < deadline) {
    await clickButton('Refresh');
    await new Promise((r) => setTimeout(r, 400));
    policy = await page.$eval(`tr[data-route="${BUCKET}"] [data-route-policy]`, (e) => e.textContent).catch(() => '');
    if (policy === 'lc') break;
  }
  assert(policy === 'lc', `route policy ${policy}`);
  const after = (await api('GET', `/v1/routes/${BUCKET}`)).json;
  assert(after.version > before.version, `route version ${before.version} -> ${after.version}`);
});

await step('the default policy and match header are saved; a bad header names its field', async () => {
  await fill('input[name=bucket_header]', 'Bad Header!');
  await clickButton('Save defaults');
  await page.waitForSelector('[data-field=bucket_header] .field-error');
  await fill('input[name=bucket_header]', 'X-Fado-Bucket');
  await choose('select[name=default_policy]', 'p2c');
  await clickButton('Save defaults');
  await waitText('Saved: the gateways get it');
  const s = (await api('GET', '/v1/settings')).json;
  assert(s.default_policy === 'p2c' && s.bucket_header === 'X-Fado-Bucket', JSON.stringify(s));
});

await step("the gateways' live view shows requests per endpoint", async () => {
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${E.GATEWAY_URL}/function/hello`, { headers: { 'X-Fado-Bucket': BUCKET } });
    await r.text();
    assert(r.status === 200, `gateway answered ${r.status}`);
  }
  await page.waitForFunction((ep) => {
    const td = document.querySelector(`tr[data-endpoint="${ep}"] [data-requests]`);
    return td && Number(td.textContent) > 0;
  }, { timeout: 15000 }, E.FN_EU);
  await waitText('Unreachable');
  await screenshot('balancing');
});

await step('every page passes axe-core WCAG 2 A/AA checks (no serious or critical finding)', async () => {
  // The checker itself: a button with no name must be found.
  await page.evaluate(() => { const b = document.createElement('button'); b.id = 'axe-probe'; document.body.appendChild(b); });
  const probe = await a11y('probe');
  await page.evaluate(() => document.getElementById('axe-probe').remove());
  assert(probe.some((x) => x.includes('button-name')), `axe did not flag a nameless button: ${probe}`);
  const found = [];
  for (const p of ['overview', 'clusters', `buckets/${BUCKET}`, `objects/${BUCKET}`, 'balancing', 'tokens']) {
    await go(p);
    await new Promise((r) => setTimeout(r, 700));
    found.push(...await a11y(p));
  }
  await go('clusters');
  await clickButton('Edit cluster eu-1');
  await page.waitForSelector('form[data-form=cluster]');
  found.push(...await a11y('cluster form'));
  await clickButton('Cancel');
  await go('buckets');
  await clickButton(`Edit bucket ${BUCKET}`);
  await page.waitForSelector('[data-preview]');
  found.push(...await a11y('bucket form with preview'));
  await clickButton('Cancel');
  assert(found.length === 0, found.join('\n'));
});

// ---------------------------------------------------------------- tokens and roles
let readOnly = '';
await step('a read-only token is created; its secret is shown once', async () => {
  await go('tokens');
  await fill('input[name=token-name]', 'viewer');
  await choose('select[name=role]', 'read-only');
  await clickButton('Create token');
  await page.waitForSelector('[data-created-token] #new-secret');
  readOnly = await page.$eval('#new-secret', (e) => e.value);
  assert(readOnly.length > 20, 'a secret');
  await page.waitForSelector('tr[data-token=viewer]');
  const listed = await page.$eval('table[data-table=tokens]', (e) => e.innerText);
  assert(!listed.includes(readOnly), 'the list never shows a secret');
  await screenshot('tokens');
  await clickButton('I have copied it');
  await go('tokens');
  assert(!(await text()).includes(readOnly), 'gone once dismissed');
});

await step('a token is revoked from the page and refused from then on', async () => {
  await fill('input[name=token-name]', 'temp');
  await clickButton('Create token');
  await page.waitForSelector('tr[data-token=temp]');
  const secret = await page.$eval('#new-secret', (e) => e.value);
  assert((await api('GET', '/v1/whoami', undefined, secret)).status === 200, 'it works first');
  await clickButton('Revoke token temp');
  await page.waitForFunction(() => document.querySelector('tr[data-token=temp]')?.innerText.includes('revoked'));
  assert((await api('GET', '/v1/whoami', undefined, secret)).status === 401, 'then it is refused');
  await clickButton('I have copied it');
});

await step('every API call the console made carried the token in a header, none in a URL', async () => {
  const apiCalls = requests.filter((r) => new URL(r.url).pathname.startsWith('/v1/'));
  assert(apiCalls.length > 20, `${apiCalls.length} API calls`);
  for (const r of apiCalls) {
    assert(!r.url.includes(ADMIN) && !(readOnly && r.url.includes(readOnly)), `token in URL ${r.url}`);
  }
  const signed = apiCalls.filter((r) => r.auth === `Bearer ${ADMIN}`).length;
  assert(signed >= apiCalls.length - 1, `${apiCalls.length - signed} calls without the admin token`); // the refused sign-in
});

await step('a read-only token sees everything, with write controls disabled and why', async () => {
  await page.click('header .who button');
  await page.waitForSelector('input[name=token]');
  assert(await page.evaluate(() => sessionStorage.length) === 0, 'signing out forgets the token');
  await signIn(readOnly);
  await page.waitForSelector('[data-role=read-only]');
  await go('clusters');
  await page.waitForSelector('tr[data-cluster="eu-1"]');
  await waitText('Your token is read-only');
  const b = await page.evaluate(() => {
    const btn = [...document.querySelectorAll('button')].find((x) => x.textContent.trim() === 'New cluster');
    return { disabled: btn.disabled, why: document.getElementById(btn.getAttribute('aria-describedby'))?.textContent };
  });
  assert(b.disabled && b.why.includes('read-only'), JSON.stringify(b));
  await screenshot('read-only-clusters');
  await go('buckets');
  await page.waitForSelector(`tr[data-bucket="${BUCKET}"]`);
  await clickButton(`Edit bucket ${BUCKET}`);
  await page.waitForSelector('form[data-form=bucket] fieldset[disabled]');
  await go('objects');
  await page.waitForSelector('form[data-form=upload] fieldset[disabled]');
});

await step('a read-only token cannot write, even calling the API from the page', async () => {
  const s = await page.evaluate(async () => {
    const h = { Authorization: `Bearer ${sessionStorage.getItem('fado.token')}`, 'Content-Type': 'application/json' };
    const a = await fetch('/v1/zones', { method: 'POST', headers: h, body: '{"name":"ro"}' });
    const b = await fetch('/v1/placement/preview', { method: 'POST', headers: h, body: '{}' });
    const c = await fetch('/v1/tokens', { headers: h });
    return [a.status, b.status, c.status];
  });
  assert(s.join() === '403,403,403', `statuses ${s}`);
  const z = await api('GET', '/v1/zones/ro');
  assert(z.status === 404, 'no zone was created');
});

await step('without a token the page gets no data', async () => {
  const s = await page.evaluate(async () => (await fetch('/v1/summary')).status);
  assert(s === 401, `status ${s}`);
});

await step('the console is readable at a phone width', async () => {
  await page.setViewport({ width: 390, height: 844, isMobile: true });
  await go('overview');
  await page.waitForSelector('[data-count=ready]');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 1, `page wider than the screen by ${overflow}px`);
  await screenshot('phone-overview');
  await go('buckets');
  await page.waitForSelector(`tr[data-bucket="${BUCKET}"]`);
  await screenshot('phone-buckets');
  await page.setViewport({ width: 1280, height: 900 });
  await page.waitForSelector('nav', { timeout: 30000 });
});

await step('the pages can be reached with the keyboard', async () => {
  await page.evaluate(() => document.activeElement?.blur());
  let reached = false;
  for (let i = 0; i < 15 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.getAttribute('href') === '#/balancing');
  }
  assert(reached, 'Tab reaches the Load balancing link');
  await page.keyboard.press('Enter');
  await page.waitForSelector('nav a[aria-current="page"][href="#/balancing"]');
});

await step('a revoked token is sent back to sign-in', async () => {
  const list = (await api('GET', '/v1/tokens')).json.items;
  const viewer = list.find((t) => t.name === 'viewer');
  assert((await api('DELETE', `/v1/tokens/${viewer.id}`)).status === 204, 'revoked');
  // The page polls (the gateways' view here): its next call is a 401.
  await page.waitForSelector('input[name=token]', { timeout: 10000 });
  assert(await page.evaluate(() => sessionStorage.length) === 0, 'the token is forgotten');
  const found = await a11y('sign-in');
  assert(found.length === 0, found.join('\n'));
  assert(consoleErrors.length === 0, `script errors: ${consoleErrors.join('; ')}`);
});

await browser.close();
process.exit(failed ? 1 : 0);
