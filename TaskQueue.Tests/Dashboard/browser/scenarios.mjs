// Browser scenarios for the operator dashboard, run by TaskQueue.Tests/Dashboard/DashboardBrowserTests (and
// scripts/screenshots.sh) in headless Chromium: `node scenarios.mjs <scenario>`. Settings come from the environment
// (DASHBOARD_URL, ADMIN_KEY, READ_KEY, QUEUE, STATIC_QUEUE, BIG_QUEUE, DEAD_TEXT, GROUP, TASK_ID, SHOTS_DIR, ...). Each scenario
// prints one line "RESULT <json>" with what it saw; the xunit test asserts on it (and on the broker's own figures).
// A scenario that needs the test to act (submit tasks, ...) prints "STEP <name>" and waits for a line on stdin.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('DASHBOARD_URL');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const timeout = 20_000;

let stdin = null;
let stdinLines = null;
// Asks the test to do `name` and waits until it says it is done.
async function step(name) {
  stdin ??= createInterface({ input: process.stdin });
  stdinLines ??= stdin[Symbol.asyncIterator]();
  console.log(`STEP ${name}`);
  const { done } = await stdinLines.next();
  if (done) throw new Error(`the test closed stdin during step ${name}`);
}

// Reloads `url` until `check(page)` gives a truthy value or `ms` pass; returns the last value.
async function poll(page, url, check, ms = 30_000) {
  const until = Date.now() + ms;
  let value = null;
  while (Date.now() < until) {
    await page.goto(url);
    value = await check(page);
    if (value) return value;
    await page.waitForTimeout(250);
  }
  return value;
}

const queueCounts = async (page) => {
  const state = async (name) => Number((await page.locator(`[data-state="${name}"] .count`).textContent()).trim());
  return { ready: await state('Ready'), leased: await state('Leased'), paused: await page.getAttribute('[data-queue-paused]', 'data-queue-paused') };
};

async function signIn(page, key) {
  await page.goto(`${base}/SignIn`);
  await page.fill('input[name=credential]', key);
  await Promise.all([page.waitForURL(`${base}/`, { timeout }), page.click('form.signin button[type=submit]')]);
}

async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on('dialog', (dialog) => dialog.accept());
  return { context, page };
}

const scenarios = {
  async signin(browser) {
    const { context, page } = await newPage(browser);
    await page.goto(`${base}/`);
    const redirectedToSignIn = new URL(page.url()).pathname === '/SignIn';
    await page.fill('input[name=credential]', 'tq_not-a-key-the-broker-knows');
    await page.click('form.signin button[type=submit]');
    const badKeyRefused = await page.locator('[data-signin-error]').count() === 1;
    const cookiesAfterBadKey = (await context.cookies()).filter((c) => c.name === 'tq-dashboard').length;
    await signIn(page, env('ADMIN_KEY'));
    const identity = (await page.textContent('[data-identity]')).trim();
    const cookie = (await context.cookies()).find((c) => c.name === 'tq-dashboard');
    const keyInCookie = cookie ? cookie.value.includes(env('ADMIN_KEY')) : null;
    await page.click('header .who button');
    await page.waitForURL(`${base}/SignIn`);
    await page.goto(`${base}/`);
    const signedOut = new URL(page.url()).pathname === '/SignIn';
    return { redirectedToSignIn, badKeyRefused, cookiesAfterBadKey, identity, cookie: cookie && { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite }, keyInCookie, signedOut };
  },

  async counts(browser) {
    const { page } = await newPage(browser);
    await signIn(page, env('ADMIN_KEY'));
    const queue = env('STATIC_QUEUE');
    // Wait for a refresh by the page's own script (not the server render), twice, so the figures are the polled ones.
    const first = await page.getAttribute('[data-overview]', 'data-refreshed-at', { timeout }).catch(() => null);
    await page.waitForFunction((previous) => {
      const at = document.querySelector('[data-overview]').dataset.refreshedAt;
      return at && at !== previous;
    }, first, { timeout });
    const row = page.locator(`tr[data-queue="${queue}"]`);
    const read = async (key) => Number((await row.locator(`[data-count="${key}"]`).textContent()).trim());
    const overview = { ready: await read('ready'), scheduled: await read('scheduled'), leased: await read('leased'), dead: await read('dead') };
    await page.goto(`${base}/Queue?name=${encodeURIComponent(queue)}`);
    const state = async (name) => Number((await page.locator(`[data-state="${name}"] .count`).textContent()).trim());
    const queuePage = { ready: await state('Ready'), scheduled: await state('Scheduled'), leased: await state('Leased'), dead: await state('DeadLettered') };
    const rows = await page.locator('[data-tasks] tr[data-task]').count();
    const workers = Number((await (await page.goto(`${base}/`), page.textContent('[data-workers-connected]'))).trim());
    return { overview, queuePage, rows, workers };
  },

  // The Queue page's group filter (the broker's ListTasks filter) and its group column.
  async groups(browser) {
    const { page } = await newPage(browser);
    await signIn(page, env('ADMIN_KEY'));
    await page.goto(`${base}/Queue?name=${encodeURIComponent(env('STATIC_QUEUE'))}&state=Ready`);
    const allGroups = await page.locator('[data-tasks] tr[data-task] [data-group]').allTextContents();
    await page.fill('[data-group-filter]', env('GROUP'));
    await Promise.all([page.waitForURL(/group=/), page.click('form.filters button[type=submit]')]);
    const filtered = await page.locator('[data-tasks] tr[data-task] [data-group]').allTextContents();
    const nextHref = await page.locator('[data-next]').count();
    return { allGroups: allGroups.map((g) => g.trim()), filtered: filtered.map((g) => g.trim()), url: page.url(), nextHref };
  },

  async replay(browser) {
    const { page } = await newPage(browser);
    await signIn(page, env('ADMIN_KEY'));
    const queue = env('QUEUE');
    await page.goto(`${base}/DeadLetters?queue=${encodeURIComponent(queue)}`);
    const before = await page.locator('[data-tasks] tr[data-task]').count();
    await page.fill('[data-search]', env('DEAD_TEXT'));
    await Promise.all([page.waitForLoadState('load'), page.click('[data-find]')]);
    await page.waitForURL(/text=/);
    const found = await page.locator('[data-tasks] tr[data-task]').evaluateAll((rows) => rows.map((r) => r.dataset.task));
    if (found.length !== 1) return { before, found };
    await page.check(`input[name=ids][value="${found[0]}"]`);
    await Promise.all([page.waitForURL(/DeadLetters/), page.click('[data-action="replay-selected"]')]);
    const notice = (await page.textContent('[data-notice]')).trim();
    let finalState = null;
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      await page.goto(`${base}/Task?id=${encodeURIComponent(found[0])}`);
      finalState = (await page.textContent('[data-task-state]')).trim();
      if (finalState === 'Completed') break;
      await page.waitForTimeout(250);
    }
    const result = await page.locator('[data-blob]').last().textContent();
    await page.goto(`${base}/Audit?queue=${encodeURIComponent(queue)}`);
    const audited = await page.locator('tr[data-audit-entry]').evaluateAll((rows) => rows.map((r) => r.textContent.replace(/\s+/g, ' ').trim()));
    return { before, found, notice, finalState, result, audited };
  },

  async readonly(browser) {
    const { page } = await newPage(browser);
    await signIn(page, env('READ_KEY'));
    const queue = env('QUEUE');
    const pages = ['/', `/Queue?name=${encodeURIComponent(queue)}`, `/Queue?name=${encodeURIComponent(queue)}&state=DeadLettered`, `/DeadLetters?queue=${encodeURIComponent(queue)}`,
      `/Task?id=${encodeURIComponent(env('TASK_ID'))}`, '/Schedules', '/Workers', '/Audit'];
    const controls = {};
    let deadShown = 0;
    for (const path of pages) {
      const response = await page.goto(`${base}${path}`);
      // Anything that changes state: an action button or a POST form other than signing out.
      const count = await page.locator('[data-action], form[method=post]:not(.who), input[name=ids]').count();
      controls[path] = { status: response.status(), mutating: count };
      if (path.startsWith('/DeadLetters')) deadShown = await page.locator('[data-tasks] tr[data-task]').count();
    }
    await page.goto(`${base}/`);
    const token = await page.getAttribute('header .who input[name=__RequestVerificationToken]', 'value');
    const forge = (path, body) => page.evaluate(async ({ url, form }) => {
      const response = await fetch(url, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual', credentials: 'same-origin' });
      return response.status;
    }, { url: `${base}${path}`, form: body });
    const forged = {
      purgeAllWithoutToken: await forge('/DeadLetters?handler=PurgeAll', { queue }),
      purgeAllWithToken: await forge('/DeadLetters?handler=PurgeAll', { queue, __RequestVerificationToken: token }),
      replayAllWithToken: await forge('/DeadLetters?handler=ReplayAll', { queue, __RequestVerificationToken: token }),
      cancelWithoutToken: await forge(`/Task?handler=Cancel&id=${encodeURIComponent(env('TASK_ID'))}`, {}),
      cancelWithToken: await forge(`/Task?handler=Cancel&id=${encodeURIComponent(env('TASK_ID'))}`, { __RequestVerificationToken: token }),
      pauseWithoutToken: await forge(`/Queue?handler=Pause&name=${encodeURIComponent(queue)}`, {}),
      pauseWithToken: await forge(`/Queue?handler=Pause&name=${encodeURIComponent(queue)}`, { __RequestVerificationToken: token }),
      triggerWithoutToken: await forge('/Schedules?handler=Trigger', { queue, name: env('SCHEDULE') }),
      triggerWithToken: await forge('/Schedules?handler=Trigger', { queue, name: env('SCHEDULE'), __RequestVerificationToken: token }),
      drainWithoutToken: await forge(`/Workers?handler=Drain&id=${encodeURIComponent(env('WORKER_ID'))}`, {}),
      drainWithToken: await forge(`/Workers?handler=Drain&id=${encodeURIComponent(env('WORKER_ID'))}`, { __RequestVerificationToken: token }),
    };
    return { controls, deadShown, forged };
  },

  // Pause the worker's queue, have the test submit, see nothing start (ready grows, leased stays 0), resume, see it drain.
  async pause(browser) {
    const { page } = await newPage(browser);
    await signIn(page, env('ADMIN_KEY'));
    const queue = env('QUEUE');
    const url = `${base}/Queue?name=${encodeURIComponent(queue)}`;
    await page.goto(url);
    const before = await queueCounts(page);
    await Promise.all([page.waitForURL(/Queue/), page.click('[data-action="pause"]')]);
    const notice = (await page.textContent('[data-notice]')).trim();
    const afterPause = await queueCounts(page);
    await page.goto(`${base}/`);
    const overviewPaused = await page.getAttribute(`tr[data-queue="${queue}"] [data-paused]`, 'data-paused');
    await step('submit');
    const whilePaused = [];
    const seenAll = await poll(page, url, async (p) => {
      const counts = await queueCounts(p);
      whilePaused.push(counts);
      return counts.ready >= before.ready + Number(env('SUBMITTED')) ? counts : null;
    });
    // Watch a little longer: a paused queue still starts nothing.
    const watchUntil = Date.now() + 2_000;
    while (Date.now() < watchUntil) {
      await page.goto(url);
      whilePaused.push(await queueCounts(page));
      await page.waitForTimeout(250);
    }
    await Promise.all([page.waitForURL(/Queue/), page.click('[data-action="resume"]')]);
    const afterResume = await queueCounts(page);
    const drained = await poll(page, url, async (p) => {
      const counts = await queueCounts(p);
      return counts.ready === before.ready && counts.leased === 0 ? counts : null;
    });
    return {
      before, notice, afterPause, overviewPaused, seenAll: Boolean(seenAll), afterResume, drained,
      maxReady: Math.max(...whilePaused.map((c) => c.ready)), maxLeased: Math.max(...whilePaused.map((c) => c.leased)),
      pausedThroughout: whilePaused.every((c) => c.paused === 'true'),
    };
  },

  // The Workers page: a worker's types and its running task (linked to the Task page), then an admin drains it (confirmed):
  // it shows draining, the test submits more of its queue, and its running task still completes.
  async workers(browser) {
    const { page } = await newPage(browser);
    await signIn(page, env('ADMIN_KEY'));
    const worker = env('DRAIN_WORKER');
    const row = () => page.locator(`tr[data-worker="${worker}"]`);
    await step('start');
    // Its running tasks reach the registry with its heartbeats (every lease / 3).
    const listed = await poll(page, `${base}/Workers`, async () => (await row().locator('[data-running-task]').count()) > 0, 60_000);
    if (!listed) return { listed };
    const runningTask = await row().locator('[data-running-task]').first().getAttribute('data-running-task');
    const runningHref = await row().locator('[data-running-task]').first().getAttribute('href');
    const types = (await row().locator('[data-worker-types]').textContent()).trim();
    const statusBefore = (await row().locator('[data-worker-status]').textContent()).trim();
    await Promise.all([page.waitForURL(/Task/), row().locator('[data-running-task]').first().click()]);
    const linkedTask = (await page.textContent('[data-task-id]')).trim();
    await page.goto(`${base}/Workers`);
    let confirmed = null;
    page.once('dialog', (dialog) => { confirmed = dialog.message(); });
    await Promise.all([page.waitForURL(/Workers/), row().locator('[data-action="drain"]').click()]);
    const notice = (await page.textContent('[data-notice]')).trim();
    const statusAfter = (await row().locator('[data-worker-status]').textContent()).trim();
    const drainButtons = await row().locator('[data-action="drain"]').count();
    await step('submit');
    const finalState = await poll(page, `${base}/Task?id=${encodeURIComponent(runningTask)}`, async (p) => {
      const state = (await p.textContent('[data-task-state]')).trim();
      return state === 'Completed' ? state : null;
    }, 60_000);
    await page.goto(`${base}/Workers`);
    const statusAtEnd = (await row().locator('[data-worker-status]').textContent()).trim();
    return { listed, runningTask, runningHref, types, statusBefore, linkedTask, confirmed, notice, statusAfter, drainButtons, finalState, statusAtEnd };
  },

  // The Schedules page: the schedule's next runs, pause and resume, and trigger now, whose task completes.
  async schedules(browser) {
    const { page } = await newPage(browser);
    await signIn(page, env('ADMIN_KEY'));
    const row = () => page.locator(`tr[data-schedule="${env('SCHEDULE')}"][data-schedule-queue="${env('QUEUE')}"]`);
    await page.goto(`${base}/Schedules`);
    const nextRuns = (await row().locator('[data-next-run]').allTextContents()).map((t) => t.trim());
    const cron = (await row().locator('code').textContent()).trim();
    await Promise.all([page.waitForURL(/Schedules/), row().locator('[data-action="pause"]').click()]);
    const paused = await row().locator('[data-schedule-paused]').getAttribute('data-schedule-paused');
    const nextRunsPaused = await row().locator('[data-next-run]').count();
    await Promise.all([page.waitForURL(/Schedules/), row().locator('[data-action="resume"]').click()]);
    const resumed = await row().locator('[data-schedule-paused]').getAttribute('data-schedule-paused');
    await Promise.all([page.waitForURL(/Schedules/), row().locator('[data-action="trigger"]').click()]);
    const triggered = await page.getAttribute('[data-triggered]', 'data-triggered');
    const finalState = await poll(page, `${base}/Task?id=${encodeURIComponent(triggered)}`, async (p) => {
      const state = (await p.textContent('[data-task-state]')).trim();
      return state === 'Completed' ? state : null;
    });
    await page.goto(`${base}/Schedules`);
    const lastTask = (await row().locator('[data-last-task] a').textContent()).trim();
    const lastState = (await row().locator('[data-last-state]').textContent()).trim();
    return { nextRuns, cron, paused, nextRunsPaused, resumed, triggered, finalState, lastTask, lastState };
  },

  // The Task page of a task that failed twice and then completed: each failed attempt with its error, and the trace link.
  async attempts(browser) {
    const { page } = await newPage(browser);
    await signIn(page, env('ADMIN_KEY'));
    await page.goto(`${base}/Task?id=${encodeURIComponent(env('RETRIED_TASK_ID'))}`);
    const rows = await page.locator('[data-attempts] tr[data-attempt]').evaluateAll((trs) => trs.map((tr) => ({
      attempt: Number(tr.dataset.attempt),
      outcome: tr.querySelector('[data-attempt-outcome]').textContent.trim(),
      error: tr.querySelector('[data-attempt-error]').textContent.trim(),
    })));
    const state = (await page.textContent('[data-task-state]')).trim();
    const traceLink = await page.getAttribute('[data-trace-link]', 'href');
    return { rows, state, traceLink };
  },

  async biglist(browser) {
    const { page } = await newPage(browser);
    await signIn(page, env('ADMIN_KEY'));
    const url = `${base}/Queue?name=${encodeURIComponent(env('BIG_QUEUE'))}&state=Ready`;
    await page.goto(url); // warm-up: connections, JIT
    const firstPage = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await page.goto(url, { waitUntil: 'load' });
      firstPage.push(Math.round(performance.now() - start));
    }
    const rows = await page.locator('[data-tasks] tr[data-task]').count();
    const ready = Number((await page.locator('[data-state="Ready"] .count').textContent()).trim());
    const next = await page.getAttribute('[data-next]', 'href');
    const pages = [];
    let href = next;
    for (let i = 0; i < 5 && href; i++) {
      const start = performance.now();
      await page.goto(`${base}${href}`, { waitUntil: 'load' });
      pages.push(Math.round(performance.now() - start));
      href = await page.getAttribute('[data-next]', 'href').catch(() => null);
    }
    const laterRows = await page.locator('[data-tasks] tr[data-task]').count();
    const search = performance.now();
    await page.goto(`${url}&text=${encodeURIComponent('no-such-text')}`, { waitUntil: 'load' });
    const searchMs = Math.round(performance.now() - search);
    const searched = (await page.textContent('[data-listed]')).trim();
    const sorted = [...firstPage].sort((a, b) => a - b);
    return { ready, rows, laterRows, firstPageMs: firstPage, medianMs: sorted[2], nextPagesMs: pages, searchMs, searched };
  },

  async screenshots(browser) {
    const dir = env('SHOTS_DIR');
    mkdirSync(dir, { recursive: true });
    const { page } = await newPage(browser);
    await signIn(page, env('ADMIN_KEY'));
    const shots = {
      'operator-overview.png': '/',
      'operator-queue.png': `/Queue?name=${encodeURIComponent(env('QUEUE'))}&state=Completed`,
      'operator-task.png': `/Task?id=${encodeURIComponent(env('RETRIED_TASK_ID'))}`,
      'operator-dead-letters.png': `/DeadLetters?queue=${encodeURIComponent(env('QUEUE'))}`,
      'operator-schedules.png': '/Schedules',
      'operator-workers.png': '/Workers',
      'operator-audit.png': '/Audit',
    };
    const statuses = {};
    for (const [file, path] of Object.entries(shots)) {
      const response = await page.goto(`${base}${path}`);
      statuses[file] = response.status();
      if (path === '/') {
        // Let the chart gather a few samples.
        await page.waitForTimeout(7_000);
      }
      await page.screenshot({ path: join(dir, file), fullPage: true });
    }
    return { statuses };
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`unknown scenario '${name}'; one of: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
const browser = await chromium.launch({ executablePath, args: flags, headless: true });
try {
  const result = await scenarios[name](browser);
  console.log('RESULT ' + JSON.stringify(result));
} finally {
  await browser.close();
  // An open stdin (a scenario with steps) would keep node running.
  stdin?.close();
  process.stdin.destroy();
}
