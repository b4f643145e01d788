// Screenshots of the Aspire dashboard of a running TaskQueue AppHost, for the README.
//
// Run by ../dashboard-screenshots.sh, which starts the AppHost first and stops it afterwards. On its own:
//   node shoot.mjs            (an AppHost started with the `http` launch profile must be running)
//
// What it does, in order:
//   1. waits until the dashboard answers and the demo client has printed its report;
//   2. submits one task of type `fail` with payload 1 (its first attempt fails, the retry succeeds) through
//      TaskQueue.Client, exporting the client's spans to the dashboard, and waits until it completed;
//   3. waits until that task's trace holds the client's span and both worker attempts and stops growing;
//   4. takes the screenshots (docs/images/dashboard-*.png) by navigating to the dashboard's own URLs.
//
// Settings (environment variables): DASHBOARD_URL, OTLP_URL, BROKER_URL, OUT_DIR, REPO_ROOT, CHROMIUM,
// STARTUP_TIMEOUT_S (dashboard and demo), STEP_TIMEOUT_S (anything else), TASK_ID (picture this task's trace).

import { execFile } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = process.env.REPO_ROOT ?? path.resolve(here, '..', '..');
const dashboard = (process.env.DASHBOARD_URL ?? 'http://127.0.0.1:18888').replace(/\/$/, '');
const otlp = process.env.OTLP_URL ?? 'http://127.0.0.1:18889';
const broker = process.env.BROKER_URL ?? 'http://localhost:5001';
const outDir = process.env.OUT_DIR ?? path.join(repoRoot, 'docs', 'images');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const startupTimeout = Number(process.env.STARTUP_TIMEOUT_S ?? 300) * 1000;
const stepTimeout = Number(process.env.STEP_TIMEOUT_S ?? 120) * 1000;
const viewport = { width: 1600, height: 1000 };

const started = Date.now();
const log = (message) => console.log(`[shoot ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class StepError extends Error {}

/** Runs fn until it returns a truthy value; fails with `what` after timeoutMs. */
async function until(what, timeoutMs, fn, intervalMs = 1000) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  let lastReport = Date.now();
  for (;;) {
    try {
      const value = await fn();
      if (value) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }

    if (Date.now() > deadline) {
      throw new StepError(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`);
    }

    if (Date.now() - lastReport > 15000) {
      log(`still waiting for ${what}...`);
      lastReport = Date.now();
    }

    await sleep(intervalMs);
  }
}

async function api(pathAndQuery) {
  const response = await fetch(`${dashboard}/api/telemetry${pathAndQuery}`);
  if (!response.ok) {
    throw new Error(`GET /api/telemetry${pathAndQuery}: HTTP ${response.status}`);
  }
  return response.json();
}

/** Flattens an OTLP JSON answer of the dashboard's telemetry API into spans with their service and scope. */
function spansOf(answer) {
  const spans = [];
  for (const resourceSpans of answer?.data?.resourceSpans ?? []) {
    const resource = Object.fromEntries(
      (resourceSpans.resource?.attributes ?? []).map((a) => [a.key, Object.values(a.value ?? {})[0]]));
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        const attributes = Object.fromEntries((span.attributes ?? []).map((a) => [a.key, Object.values(a.value ?? {})[0]]));
        spans.push({ ...span, attributes, service: resource['service.name'], scope: scopeSpans.scope?.name ?? '' });
      }
    }
  }
  return spans;
}

/** Runs TaskQueue.Client (already built by the AppHost's build) with its spans exported to the dashboard. */
function client(args) {
  const env = {
    ...process.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
    OTEL_SERVICE_NAME: 'client',
    OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=screenshots',
  };
  const command = ['run', '--project', path.join(repoRoot, 'TaskQueue.Client'), '--no-build', '--no-launch-profile', '--',
    ...args, '--broker', broker];
  return new Promise((resolve, reject) => {
    execFile('dotnet', command, { env, cwd: repoRoot, timeout: stepTimeout }, (error, stdout, stderr) => {
      if (error && error.code !== 0) {
        reject(new StepError(`TaskQueue.Client ${args.join(' ')} failed (${error.code ?? error.signal}): ${stderr.trim() || stdout.trim()}`));
      } else {
        resolve(stdout.trim());
      }
    });
  });
}

// ---- the browser ---------------------------------------------------------------------------------------------------

/** The first visible element with this text (the dashboard also keeps hidden copies, e.g. in filter menus). */
function visible(page, text, options) {
  return page.getByText(text, options).filter({ visible: true }).first();
}

async function open(page, url, expectedText) {
  log(`open ${url}`);
  await page.goto(dashboard + url, { waitUntil: 'networkidle', timeout: stepTimeout });
  // Blazor Server renders over its WebSocket after the load; a circuit error shows this banner: reload once.
  if (await page.locator('#blazor-error-ui').isVisible().catch(() => false)) {
    log('the dashboard showed "An unhandled error has occurred": reloading');
    await page.reload({ waitUntil: 'networkidle', timeout: stepTimeout });
  }
  if (expectedText) {
    await visible(page, expectedText).waitFor({ timeout: stepTimeout });
  }
  await dismissMessageBars(page);
}

/** The "no trusted development certificate" and "endpoint is unsecured" notices: dismissed, as a reader would. */
async function dismissMessageBars(page) {
  const dismiss = page.locator('[aria-label="Dismiss notification"]');
  for (let i = 0; i < 5 && (await dismiss.count()) > 0; i++) {
    await dismiss.first().click({ timeout: 5000 }).catch(() => {});
    await page.waitForTimeout(200);
  }
}

/** The top of the page down to just below the last visible grid row (or open menu): no empty half-page. */
async function aboveLastRow(page, minHeight = 360) {
  const bottom = await page.evaluate(() => Math.max(0, ...[...document.querySelectorAll('[role=row], [role=gridcell], [role=menu], [role=menuitem]')]
    .map((e) => e.getBoundingClientRect())
    .filter((r) => r.height > 0 && r.width > 0)
    .map((r) => r.bottom)));
  const height = Math.min(viewport.height, Math.max(minHeight, Math.ceil(bottom) + 40));
  return { x: 0, y: 0, width: viewport.width, height };
}

async function shoot(page, name, clip) {
  const file = path.join(outDir, `dashboard-${name}.png`);
  // Let running CSS transitions (row expansion, chart fade-in) finish before the picture.
  await page.waitForTimeout(700);
  await page.screenshot({ path: file, clip });
  const { size } = await stat(file);
  log(`wrote ${path.relative(repoRoot, file)} (${Math.round(size / 1024)} KiB)`);
  return file;
}

// ---- the steps -----------------------------------------------------------------------------------------------------

async function waitForDashboard() {
  log(`waiting for the dashboard at ${dashboard} (up to ${startupTimeout / 1000} s)`);
  await until('the dashboard to answer', startupTimeout, async () => (await fetch(dashboard + '/')).ok, 2000);
  log('the dashboard answers');
}

async function waitForDemo(page) {
  log(`waiting for the demo client's report in its console log (up to ${startupTimeout / 1000} s)`);
  await page.goto(`${dashboard}/consolelogs/resource/client`, { waitUntil: 'networkidle', timeout: stepTimeout });
  const report = page.getByText(/demo: \d+ completed/).first();
  await report.waitFor({ timeout: startupTimeout }).catch(() => {
    throw new StepError(`no "demo: N completed" line in the client's console log after ${startupTimeout / 1000} s (is the AppHost running with Demo=true?)`);
  });
  log(`demo finished: ${(await report.innerText()).trim()}`);
  await page.getByText(/demo: (every task|some tasks)/).first().waitFor({ timeout: stepTimeout });
}

const byStart = (a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1);

async function submitRetriedTask() {
  log(`submitting one task of type "fail" that fails once, then succeeds (client spans to ${otlp}, broker ${broker})`);
  const taskId = (await client(['submit', '--type', 'fail', '--payload', '1', '--max-attempts', '3'])).split('\n').pop();
  if (!/^\S+$/.test(taskId ?? '')) {
    throw new StepError(`TaskQueue.Client submit printed no task id: "${taskId}"`);
  }
  log(`submitted ${taskId}; waiting until it completes`);
  const snapshot = await client(['wait', taskId, '--timeout', `${Math.round(stepTimeout / 1000)}s`]);
  log(`task ${taskId}: ${snapshot.split('\n').filter((l) => /state|attempt/i.test(l)).join('; ') || 'completed'}`);
  return taskId;
}

/** The task's trace id, once it holds the client's span and two worker attempts, and no more spans arrive. */
async function waitForTrace(taskId) {
  log(`waiting for the trace of ${taskId} (the client's span and at least two worker attempts)`);
  // Each service exports its spans on its own schedule: the trace is complete when its span count has not changed
  // for three polls in a row (6 s apart from first to last).
  const counts = [];
  return until(`the trace of ${taskId} in the dashboard`, stepTimeout, async () => {
    const found = spansOf(await api(`/spans?search=${encodeURIComponent(taskId)}`));
    const traceId = found.find((s) => s.scope === 'TaskQueue.Worker')?.traceId ?? found[0]?.traceId;
    if (!traceId) {
      return null;
    }

    const spans = spansOf(await api(`/traces/${traceId}`));
    const attempts = spans.filter((s) => s.scope === 'TaskQueue.Worker' && s.attributes['messaging.message.id'] === taskId);
    const sent = spans.some((s) => s.scope === 'TaskQueue.Client');
    counts.push(spans.length);
    const stable = counts.length >= 3 && counts.slice(-3).every((count) => count === spans.length);
    if (attempts.length >= 2 && sent && stable) {
      const failed = attempts.filter((s) => s.status?.code === 2).sort(byStart)[0];
      log(`trace ${traceId}: ${spans.length} spans, ${attempts.length} worker attempts`);
      return { traceId, spans, failedAttempt: failed ?? attempts[0] };
    }
    return null;
  }, 3000);
}

async function resourceDisplayName(name) {
  const resources = await api('/resources');
  const matches = resources.filter((r) => r.name === name);
  if (matches.length === 0) {
    throw new StepError(`the dashboard knows no resource named "${name}"`);
  }
  return matches.length === 1 ? name : matches[0].displayName;
}

async function main() {
  await mkdir(outDir, { recursive: true });
  await waitForDashboard();

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  const written = [];
  try {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1, colorScheme: 'light', locale: 'en-US' });
    const page = await context.newPage();

    await waitForDemo(page);
    // One task of its own rather than one of the demo's: submitted into a quiet system, its trace is complete (during
    // the demo's burst the broker drops some of its spans) and it has exactly two attempts (the demo's fail twice).
    // TASK_ID: a task chosen by hand instead.
    const taskId = process.env.TASK_ID || await submitRetriedTask();
    const trace = await waitForTrace(taskId);

    // 1. Resources: every service, its state, its endpoints.
    await open(page, '/', /Showing \d+ resources/);
    await visible(page, 'Finished', { exact: true }).waitFor({ timeout: stepTimeout });
    written.push(await shoot(page, 'resources'));

    // 2. Traces, filtered to the spans of this one task (attribute messaging.message.id = the task id).
    //    The dashboard's filter syntax is field:condition:value with field and value URL-encoded.
    const filter = `messaging.message.id:equals:${encodeURIComponent(taskId)}`;
    await open(page, `/traces?filters=${encodeURIComponent(filter)}`);
    await visible(page, /Showing 1 trace\b/).waitFor({ timeout: stepTimeout }).catch(() => {
      throw new StepError(`the Traces page filtered on ${taskId} does not show exactly one trace`);
    });
    // Open the Filters menu so the picture says what the list is filtered on.
    await visible(page, 'Filters', { exact: true }).click();
    await visible(page, /messaging\.message\.id ==/).waitFor({ timeout: stepTimeout });
    written.push(await shoot(page, 'traces', await aboveLastRow(page)));

    // 3. The trace: client send, broker request and Redis commands, two worker attempts.
    await open(page, `/traces/detail/${trace.traceId}`, 'Total spans');
    written.push(await shoot(page, 'trace', await aboveLastRow(page, 480)));

    // 3b. The same trace with the failed first attempt selected: its attributes (attempt, outcome) and error.
    await open(page, `/traces/detail/${trace.traceId}?spanId=${trace.failedAttempt.spanId}`, 'Total spans');
    await visible(page, 'taskqueue.task.attempt').waitFor({ timeout: stepTimeout }).catch(() => {
      throw new StepError('the span details of the failed attempt do not show taskqueue.task.attempt');
    });
    written.push(await shoot(page, 'trace-attempt'));

    // 4. Metrics of the broker's TaskQueue.Broker meter over the last 5 minutes. Only the first is required: older
    //    versions of TaskQueue have no queue depth gauge.
    const brokerName = await resourceDisplayName('broker');
    const instruments = [
      ['metrics-completed', 'taskqueue.tasks.completed', true],
      ['metrics-queue-wait', 'taskqueue.task.queue_wait', true],
      ['metrics-queue-depth', 'taskqueue.queue.depth', false],
    ];
    for (const [name, instrument, required] of instruments) {
      await open(page, `/metrics/resource/${encodeURIComponent(brokerName)}?meter=TaskQueue.Broker&instrument=${instrument}&duration=5`);
      await visible(page, 'TaskQueue.Broker', { exact: true }).waitFor({ timeout: stepTimeout })
        .catch(() => { throw new StepError(`the Metrics page of ${brokerName} lists no TaskQueue.Broker meter`); });
      const heading = page.locator('h1, h2, h3, h4').getByText(instrument, { exact: true }).first();
      if (!(await heading.isVisible()) && !required) {
        log(`${brokerName} exports no ${instrument}: no ${name} picture`);
        continue;
      }
      await heading.waitFor({ timeout: stepTimeout })
        .catch(() => { throw new StepError(`the Metrics page shows no ${instrument} for ${brokerName}`); });
      await page.locator('.plotly .main-svg, svg.main-svg').first().waitFor({ timeout: stepTimeout });
      // The instrument tree is long: scroll the selected instrument into view so its meter shows too.
      await page.getByText(instrument, { exact: true }).last().scrollIntoViewIfNeeded().catch(() => {});
      written.push(await shoot(page, name));
    }

    // 5. Structured logs at level Warning and above, of every service: the failed attempts of the demo, each with
    //    its task, type and attempt, and a link to its trace.
    await open(page, '/structuredlogs?logLevel=warning', /Showing \d+ structured log/);
    await visible(page, /attempt 1\) failed/).waitFor({ timeout: stepTimeout }).catch(() => {
      throw new StepError('the structured logs at level Warning show no failed attempt');
    });
    written.push(await shoot(page, 'logs'));
  } finally {
    await browser.close();
  }

  log(`done: ${written.length} screenshots in ${path.relative(repoRoot, outDir)}`);
}

main().catch((error) => {
  console.error(`[shoot] FAILED: ${error instanceof StepError ? error.message : error.stack ?? error}`);
  process.exit(1);
});
