// The Overview refreshes itself: it polls /api/overview every data-refresh-ms, updates the counts, and turns the
// cumulative completed/failed counters into per-second rates over the last five minutes (kept while the page is open).
(() => {
  const root = document.querySelector('[data-overview]');
  if (!root) return;
  const interval = Number(root.dataset.refreshMs) || 2000;
  const windowMs = 5 * 60 * 1000;
  const samples = [];
  const text = (selector, value) => { const el = document.querySelector(selector); if (el) el.textContent = value; };

  function row(queue) {
    let tr = document.querySelector(`tr[data-queue="${CSS.escape(queue.queue)}"]`);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.queue = queue.queue;
      const name = encodeURIComponent(queue.queue);
      const link = (href, label) => { const a = document.createElement('a'); a.href = href; a.textContent = label; return a; };
      const first = document.createElement('td');
      first.append(link(`/Queue?name=${name}`, queue.queue));
      tr.append(first);
      const flow = document.createElement('td');
      flow.dataset.paused = 'false';
      tr.append(flow);
      for (const key of ['ready', 'scheduled', 'leased', 'dead', 'completed', 'failed']) {
        const td = document.createElement('td');
        td.dataset.count = key;
        if (key === 'dead') td.append(link(`/DeadLetters?queue=${name}`, ''));
        tr.append(td);
      }
      document.querySelector('[data-queues] tbody').append(tr);
      document.querySelector('[data-no-queues]')?.remove();
    }
    return tr;
  }

  function draw() {
    const svg = document.querySelector('[data-chart]');
    if (!svg || samples.length < 2) return;
    const rates = [];
    for (let i = 1; i < samples.length; i++) {
      const dt = (samples[i].at - samples[i - 1].at) / 1000;
      if (dt <= 0) continue;
      rates.push({
        at: samples[i].at,
        completed: Math.max(0, samples[i].completed - samples[i - 1].completed) / dt,
        failed: Math.max(0, samples[i].failed - samples[i - 1].failed) / dt,
      });
    }
    if (rates.length === 0) return;
    const last = rates[rates.length - 1];
    text('[data-throughput]', last.completed.toFixed(1));
    text('[data-failure-rate]', last.failed.toFixed(1));
    const max = Math.max(1, ...rates.map((r) => Math.max(r.completed, r.failed)));
    const end = last.at;
    const points = (key) => rates.map((r) => `${(600 - ((end - r.at) / windowMs) * 600).toFixed(1)},${(118 - (r[key] / max) * 114).toFixed(1)}`).join(' ');
    svg.querySelector('[data-line="completed"]').setAttribute('points', points('completed'));
    svg.querySelector('[data-line="failed"]').setAttribute('points', points('failed'));
    text('[data-chart-max]', `peak ${max.toFixed(1)}/s`);
  }

  async function refresh() {
    try {
      const response = await fetch('/api/overview', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (response.redirected || response.status === 401) { window.location.assign('/SignIn'); return; }
      if (!response.ok) return;
      const snapshot = await response.json();
      let completed = 0; let failed = 0;
      for (const queue of snapshot.queues) {
        const tr = row(queue);
        const set = (key, value) => { const td = tr.querySelector(`[data-count="${key}"]`); (td.querySelector('a') || td).textContent = String(value); };
        set('ready', queue.ready); set('scheduled', queue.scheduled); set('leased', queue.leased);
        set('dead', queue.deadLettered); set('completed', queue.completed); set('failed', queue.failed);
        const flow = tr.querySelector('[data-paused]');
        flow.dataset.paused = String(queue.paused);
        flow.textContent = queue.paused ? 'paused' : 'running';
        flow.classList.toggle('warn', queue.paused);
        completed += queue.completed; failed += queue.failed;
      }
      if (snapshot.workers) {
        text('[data-workers-connected]', snapshot.workers.connected);
        text('[data-slots-busy]', snapshot.workers.busySlots);
        text('[data-slots-total]', snapshot.workers.slots);
      }
      const at = Date.parse(snapshot.at);
      samples.push({ at, completed, failed });
      while (samples.length > 2 && at - samples[0].at > windowMs) samples.shift();
      root.dataset.refreshedAt = snapshot.at;
      draw();
    } finally {
      setTimeout(refresh, interval);
    }
  }
  refresh();
})();
