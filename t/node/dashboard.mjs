// t/node/dashboard.mjs: drive the dashboard (admin-ui/) in headless Chromium
// with playwright-core, for t/t5030-dashboard.t.
//
//	node dashboard.mjs URL SHOTS CLIENTID NEWPWD
//
// URL is the dashboard (http://127.0.0.1:PORT/), SHOTS the directory for
// the screenshots, CLIENTID the id of the MQTT client that the test keeps
// connected (subscribed to dash/test/#), NEWPWD the password that replaces
// admin's default one, "public".  Prints "ok - STEP" or "not ok - STEP:
// why" for each step, in order, and stops at the first failure (with a
// screenshot, failure.png); exits 0 when every step passed.  Every wait is
// bounded (10 s); console errors and uncaught exceptions of the page fail
// the step they happen in, but for the "Failed to load resource" messages
// of the requests a step means to fail (a bad login, a duplicate ban).
// CHROMIUM overrides /usr/bin/chromium.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [url, shots, clientId, newPwd] = process.argv.slice(2);
if (!newPwd) {
  console.error('usage: node dashboard.mjs URL SHOTS CLIENTID NEWPWD');
  process.exit(2);
}
const OLD_PWD = 'public';
const TIMEOUT = 10000;
mkdirSync(shots, { recursive: true });

const deadline = setTimeout(() => {
  console.log('not ok - the whole run: over 90 s');
  process.exit(1);
}, 90000);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless=new'],
  timeout: TIMEOUT * 2,
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();

// Console errors and page errors, with the ones a step expects filtered out.
let errors = [];
let allowed = [];
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  const text = m.text();
  if (allowed.some((re) => re.test(text))) return;
  errors.push('console: ' + text + (m.location().url ? ' at ' + m.location().url : ''));
});
page.on('pageerror', (e) => errors.push('pageerror: ' + (e.stack || e.message)));

let failed = false;
async function step(name, fn, { allow = [] } = {}) {
  if (failed) return;
  allowed = allow;
  errors = [];
  try {
    await fn();
    // Let late console messages of this step arrive.
    await page.waitForTimeout(100);
    if (errors.length) throw new Error('errors in the page:\n' + errors.join('\n'));
    console.log(`ok - ${name}`);
  } catch (e) {
    failed = true;
    console.log(`not ok - ${name}: ${String(e.message || e).split('\n').join('\n#   ')}`);
    try {
      await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true });
      console.log('#   page: ' + page.url());
      const banner = page.locator('#error-banner');
      if (await banner.isVisible()) console.log('#   banner: ' + (await banner.innerText()).replace(/\s+/g, ' '));
    } catch {
      // the page may be gone
    }
  } finally {
    allowed = [];
  }
}

const byId = (id) => page.getByTestId(id);
// A screenshot, without the toasts of earlier steps over the page.
async function shot(name) {
  await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
  await page.screenshot({ path: join(shots, name + '.png'), animations: 'disabled' });
}
function expect(cond, what) {
  if (!cond) throw new Error(what);
}
async function expectText(locator, re, what) {
  await locator.filter({ hasText: re }).first().waitFor({ state: 'visible' })
    .catch(async () => {
      const got = await locator.first().innerText().catch(() => '(none)');
      throw new Error(`${what}: wanted ${re}, got ${JSON.stringify(got)}`);
    });
}
// Go to a page by its nav link and wait for its title.
async function visit(route, title) {
  await byId('nav-' + route).click();
  await page.waitForURL(new RegExp('#/' + route + '$'));
  await expectText(byId('page-title'), new RegExp('^' + title + '$'), 'page title');
  await byId('loading').first().waitFor({ state: 'detached' });
}
// The row of a table by its key (client id, listener id, ...).
const row = (table, key) => byId(table).locator(`tbody tr[data-key="${key}"]`);
const FAILED_401 = /Failed to load resource: the server responded with a status of 401/;

async function login(user, pwd) {
  await byId('login-username').fill(user);
  await byId('login-password').fill(pwd);
  await byId('login-submit').click();
}

await step('the login page is shown', async () => {
  await page.goto(url);
  await byId('login-form').waitFor();
  expect((await page.title()).includes('flockmq'), 'the document title names flockmq');
  await shot('login');
});

await step('a bad password is refused', async () => {
  await login('admin', 'not-the-password');
  await expectText(byId('login-error'), /Bad username or password/, 'login error');
}, { allow: [FAILED_401] });

await step('repeated failures lock a login, and the page says so', async () => {
  // The lock is per user name: admin is not affected.
  for (let i = 0; i < 10; i++) {
    await login('dash-nobody', 'wrong-' + i);
    await byId('login-error').filter({ hasText: /./ }).waitFor();
    if (/locked/.test(await byId('login-error').innerText())) break;
  }
  await expectText(byId('login-error'), /Too many failed attempts: this login is locked/, 'login error');
  await expectText(byId('login-error'), /LOGIN_LOCKED|try again/i, 'login error');
}, { allow: [FAILED_401, /Failed to load resource: the server responded with a status of 429/] });

await step('the default password forces a change', async () => {
  await login('admin', OLD_PWD);
  await byId('pwd-form').waitFor();
  expect(!(await byId('view').isVisible()), 'the dashboard is hidden until the password is changed');
  await expectText(byId('pwd-user'), /^admin$/, 'user');
  await shot('change-password');
});

await step('the password form rejects a new password equal to the old one', async () => {
  await byId('pwd-old').fill(OLD_PWD);
  await byId('pwd-new').fill(OLD_PWD);
  await byId('pwd-confirm').fill(OLD_PWD);
  await byId('pwd-submit').click();
  await expectText(byId('pwd-error'), /must differ/, 'password error');
});

await step('the password form rejects a confirmation that differs', async () => {
  await byId('pwd-new').fill(newPwd);
  await byId('pwd-confirm').fill(newPwd + 'x');
  await byId('pwd-submit').click();
  await expectText(byId('pwd-error'), /do not match/, 'password error');
});

await step('a wrong current password is refused by the server', async () => {
  await byId('pwd-old').fill('not-the-password');
  await byId('pwd-new').fill(newPwd);
  await byId('pwd-confirm').fill(newPwd);
  await byId('pwd-submit').click();
  await expectText(byId('pwd-error'), /not changed: the old password is wrong \(BAD_REQUEST\)/, 'password error');
  await byId('pwd-old').fill(OLD_PWD);
}, { allow: [/Failed to load resource: the server responded with a status of 400/] });

await step('the password is changed and the overview shows', async () => {
  await byId('pwd-confirm').fill(newPwd);
  await byId('pwd-submit').click();
  await byId('view').waitFor();
  await page.waitForURL(/#\/overview$/);
  await expectText(byId('page-title'), /^Overview$/, 'page title');
  await expectText(byId('header-user'), /^admin$/, 'header user');
  await expectText(byId('header-node'), /@/, 'header node');
});

await step('the overview shows the numbers and the charts', async () => {
  for (const id of ['connections', 'sessions', 'subscriptions', 'topics', 'retained']) {
    await expectText(byId('stat-' + id), /^\d[\d,]*$/, id);
  }
  const conns = Number((await byId('stat-connections').innerText()).replace(/,/g, ''));
  expect(conns >= 1, `connections >= 1 (the test's client), got ${conns}`);
  await expectText(byId('stat-uptime'), /\d+s$/, 'uptime');
  await expectText(byId('stat-uptime-sub'), /version \S+/, 'version');
  await expectText(row('nodes-table', await byId('header-node').innerText()), /running/, 'node status');
  // Rates need two polls (2 s apart) after the first.
  await byId('chart-messages').locator('polyline[data-series="received"]').waitFor({ state: 'attached' });
  await byId('chart-connections').locator('polyline').waitFor({ state: 'attached' });
  // A few more points, for the screenshot.
  await page.waitForFunction(() => document.querySelector('[data-testid=chart-messages] polyline')
    .getAttribute('points').split(' ').length >= 4, null, { timeout: 15000 });
  // dash-other-client publishes four messages a second to itself.
  await page.waitForFunction(() => parseFloat(document.querySelector('#stat-msg-in').textContent) > 0 &&
    parseFloat(document.querySelector('#stat-msg-out').textContent) > 0);
  await shot('overview');
});

await step('publish: a message reaches the subscribed client', async () => {
  await visit('publish', 'Publish');
  await byId('publish-topic').fill('dash/test/greeting');
  await byId('publish-payload').fill('hello from the dashboard');
  await byId('publish-qos').selectOption('1');
  await byId('publish-submit').click();
  await expectText(byId('publish-result'), /Message id: [0-9A-Fa-f]+/, 'publish result');
  await shot('publish');
  // No subscriber: the 202 answer is shown as a warning.
  await byId('publish-topic').fill('dash/nobody/listens');
  await byId('publish-qos').selectOption('0');
  await byId('publish-submit').click();
  await expectText(byId('publish-result'), /no subscriber matched/, 'publish result');
  // A wildcard is refused by the form.
  await byId('publish-topic').fill('dash/#');
  await byId('publish-submit').click();
  await expectText(byId('publish-result'), /wildcards/, 'publish result');
});

await step('clients: the MQTT client is listed', async () => {
  await visit('clients', 'Clients');
  const r = row('clients-table', clientId);
  await r.waitFor();
  await expectText(r.locator('td[data-col=state]'), /^connected$/, 'state');
  await expectText(r.locator('td[data-col=username]'), /^dash-user$/, 'username');
  await expectText(r.locator('td[data-col=ip]'), /^127\.0\.0\.1:\d+$/, 'address');
  await expectText(r.locator('td[data-col=proto]'), /^MQTT 3\.1\.1$/, 'protocol');
  await expectText(r.locator('td[data-col=keepalive]'), /^30 s$/, 'keepalive');
  await expectText(byId('clients-page-info'), /of \d+/, 'pager');
  await shot('clients');
});

await step('clients: pages of 10', async () => {
  await byId('clients-limit').selectOption('10');
  await expectText(byId('clients-page-info'), /^1–10 of \d+$/, 'page info');
  const total = Number((await byId('clients-page-info').innerText()).replace(/.* of /, ''));
  expect(total > 10 && total <= 20, `11 to 20 clients, got ${total}`);
  expect(await byId('clients-prev').isDisabled(), 'no previous page');
  expect(await byId('clients-table').locator('tbody tr').count() === 10, '10 rows');
  await byId('clients-next').click();
  await expectText(byId('clients-page-info'), new RegExp(`^11–${total} of ${total}$`), 'page info');
  expect(await byId('clients-next').isDisabled(), 'no next page');
  expect(await byId('clients-table').locator('tbody tr').count() === total - 10, 'the rest of the rows');
  await byId('clients-prev').click();
  await expectText(byId('clients-page-info'), /^1–10 of/, 'page info');
  await byId('clients-limit').selectOption('20');
  await expectText(byId('clients-page-info'), new RegExp(`^1–${total} of ${total}$`), 'page info');
});

await step('clients: the search box filters by client id', async () => {
  await byId('clients-search').fill('no-such-client-here');
  await expectText(byId('empty'), /No client ID contains/, 'empty state');
  await byId('clients-search').fill(clientId.slice(0, 8));
  await row('clients-table', clientId).waitFor();
  const keys = await byId('clients-table').locator('tbody tr').evaluateAll((trs) => trs.map((t) => t.dataset.key));
  expect(keys.every((k) => k.includes(clientId.slice(0, 8))), 'every row matches: ' + keys.join(', '));
});

await step('clients: the details show the client and its subscriptions', async () => {
  await row('clients-table', clientId).locator('td[data-col=clientid] a').click();
  const d = byId('client-details');
  await d.waitFor();
  await expectText(d.getByTestId('detail-clientid'), new RegExp('^' + clientId + '$'), 'client id');
  await expectText(d.getByTestId('detail-username'), /^dash-user$/, 'username');
  await expectText(d.getByTestId('detail-state'), /connected/, 'state');
  await expectText(d.getByTestId('client-subscriptions').locator('td[data-col=topic]'), /^dash\/test\/#$/, 'subscription');
  await expectText(d.getByTestId('client-subscriptions').locator('td[data-col=topic]'), /^dash\/alerts$/, 'subscription');
  await page.waitForFunction(() => !document.querySelector('#client-kick').disabled);
  await shot('client-details');
  await byId('client-details-close').click();
  await byId('client-details').waitFor({ state: 'detached' });
});

await step('subscriptions: the client\'s subscriptions are listed and filtered', async () => {
  await visit('subscriptions', 'Subscriptions');
  await expectText(byId('subscriptions-table').locator('td[data-col=topic]'), /^dash\/test\/#$/, 'topic');
  await byId('subscriptions-filter-clientid').fill(clientId);
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('[data-testid=subscriptions-table] tbody tr')];
    return rows.length === 2 && rows.every((r) => r.querySelector('td[data-col=clientid]').textContent === id);
  }, clientId);
  await shot('subscriptions');
});

await step('topics: the subscribed topics are listed', async () => {
  await visit('topics', 'Topics');
  await expectText(byId('topics-table').locator('td[data-col=topic]'), /^dash\/test\/#$/, 'topic');
  await byId('topics-filter-topic').fill('dash/alerts');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid=topics-table] tbody tr')];
    return rows.length === 1 && rows[0].querySelector('td[data-col=topic]').textContent === 'dash/alerts';
  });
  await shot('topics');
});

await step('clients: kick the client out', async () => {
  await visit('clients', 'Clients');
  await byId('clients-search').fill(clientId);
  await row('clients-table', clientId).locator('td[data-col=clientid] a').click();
  await page.waitForFunction(() => !document.querySelector('#client-kick').disabled);
  await byId('client-kick').click();
  await byId('confirm-dialog').waitFor();
  await expectText(byId('confirm-text'), new RegExp(clientId), 'confirm text');
  await byId('confirm-ok').click();
  await byId('client-details').waitFor({ state: 'detached' });
  await expectText(byId('toast'), /Kicked out/, 'toast');
  await row('clients-table', clientId).waitFor({ state: 'detached' });
  await expectText(byId('empty'), /No client ID contains/, 'empty state');
  await byId('clients-search').fill('');
});

await step('listeners: stop and start the MQTT listener', async () => {
  await visit('listeners', 'Listeners');
  const r = row('listeners-table', 'tcp:default');
  await expectText(r.locator('td[data-col=running]'), /^running$/, 'status');
  await expectText(r.locator('td[data-col=bind]'), /^127\.0\.0\.1:\d+$/, 'bind');
  await shot('listeners');
  await byId('listener-stop-tcp-default').click();
  await byId('confirm-ok').click();
  await expectText(r.locator('td[data-col=running]'), /^stopped$/, 'status after stop');
  await byId('listener-start-tcp-default').click();
  await expectText(r.locator('td[data-col=running]'), /^running$/, 'status after start');
});

await step('metrics: the counters are grouped', async () => {
  await visit('metrics', 'Metrics');
  for (const g of ['bytes', 'packets', 'messages']) await byId('metrics-group-' + g).waitFor();
  await expectText(byId('metric-messages.received'), /^\d[\d,]*$/, 'messages.received');
  await expectText(byId('metric-packets.connect.received'), /^[1-9][\d,]*$/, 'packets.connect.received');
  await shot('metrics');
  await byId('metrics-filter').fill('qos1');
  await page.waitForFunction(() => [...document.querySelectorAll('#metrics-table tr[data-key]')].every((r) => r.dataset.key.includes('qos1')));
  await byId('metrics-filter').fill('');
});

await step('banned: add an entry, see a duplicate refused in the banner, delete it', async () => {
  await visit('banned', 'Banned');
  await byId('banned-as').selectOption('clientid');
  await byId('banned-who').fill('dash-banned-client');
  await byId('banned-reason').fill('test ban');
  await byId('banned-add').click();
  await expectText(byId('banned-result'), /Banned client ID/, 'result');
  const r = row('banned-table', 'clientid:dash-banned-client');
  await expectText(r.locator('td[data-col=reason]'), /^test ban$/, 'reason');
  await shot('banned');
  await byId('banned-who').fill('dash-banned-client');
  await byId('banned-add').click();
  await byId('error-banner').waitFor();
  await expectText(byId('error-code'), /^ALREADY_EXISTS$/, 'banner code');
  await expectText(byId('error-message'), /409/, 'banner message');
  await byId('error-close').click();
  await byId('error-banner').waitFor({ state: 'hidden' });
  await byId('banned-delete-clientid-dash-banned-client').click();
  await byId('confirm-ok').click();
  await r.waitFor({ state: 'detached' });
}, { allow: [/Failed to load resource: the server responded with a status of 409/] });

await step('a narrow window collapses the nav', async () => {
  await page.setViewportSize({ width: 420, height: 800 });
  await byId('nav-toggle').click();
  await byId('nav-overview').click();
  await page.waitForURL(/#\/overview$/);
  await byId('nav-toggle').waitFor();
  await page.waitForFunction(() => document.querySelector('#nav').getBoundingClientRect().right <= 0);
  await byId('chart-connections').locator('polyline').waitFor({ state: 'attached' });
  await shot('overview-narrow');
  await byId('nav-toggle').click();
  await page.waitForFunction(() => document.querySelector('#nav').getBoundingClientRect().left >= 0);
  await byId('nav-clients').click();
  await page.waitForFunction(() => document.querySelector('#nav').getBoundingClientRect().right <= 0);
  await expectText(byId('page-title'), /^Clients$/, 'page title');
  await byId('loading').first().waitFor({ state: 'detached' });
  await shot('clients-narrow');
  await page.setViewportSize({ width: 1280, height: 800 });
});

await step('log out', async () => {
  await byId('logout').click();
  await byId('login-form').waitFor();
  await expectText(byId('login-notice'), /logged out/, 'notice');
});

await step('the old password no longer logs in', async () => {
  await login('admin', OLD_PWD);
  await expectText(byId('login-error'), /Bad username or password/, 'login error');
}, { allow: [FAILED_401] });

await step('the new password logs in, without a forced change', async () => {
  await login('admin', newPwd);
  await byId('view').waitFor();
  expect(!(await byId('pwd-form').isVisible()), 'no password change this time');
  await expectText(byId('header-user'), /^admin$/, 'header user');
  // Back on the page where the session ended.
  await expectText(byId('page-title'), /^Clients$/, 'page title');
  await visit('overview', 'Overview');
  await expectText(byId('stat-connections'), /^\d/, 'connections');
});

clearTimeout(deadline);
await browser.close();
process.exit(failed ? 1 : 0);
