// WireLab demo: what every page shares. Plain JavaScript for the browser's own EventSource
// and WebSocket: no framework, no build step.
'use strict';

const WL = (() => {
  const params = new URLSearchParams(location.search);
  // One session per page load: the server tags this page's connections with it, so that the
  // byte counters and the "cut" button concern this page only.
  const session = Math.random().toString(36).slice(2, 10);
  const autotest = params.get('autotest') === '1';
  const counters = {};

  function url(path, transport, extra = {}) {
    return `${path}?${new URLSearchParams({ session, transport, ...extra })}`;
  }
  function wsUrl(path, transport, extra = {}) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${url(path, transport, extra)}`;
  }

  function show(key, value) {
    for (const el of document.querySelectorAll(`[data-counter="${key}"]`)) el.textContent = value;
  }
  function set(key, value) { counters[key] = value; show(key, value); }
  function count(key, by = 1) { set(key, (counters[key] || 0) + by); }
  function state(panel, text) { set(`${panel}.state`, text); }

  function bytes(n) {
    if (n < 10000) return `${n} B`;
    if (n < 10000000) return `${(n / 1000).toFixed(1)} kB`;
    return `${(n / 1000000).toFixed(1)} MB`;
  }

  // Round trips: the last one and the mean.
  const rtts = {};
  function rtt(panel, ms) {
    const r = (rtts[panel] = rtts[panel] || { n: 0, sum: 0 });
    r.n += 1;
    r.sum += ms;
    set(`${panel}.rtt`, `${ms.toFixed(1)} ms (mean ${(r.sum / r.n).toFixed(1)} over ${r.n})`);
  }

  function log(panel, text, warn = false) {
    const el = document.querySelector(`[data-log="${panel}"]`);
    if (!el) return;
    const line = document.createElement('div');
    if (warn) line.className = 'warn';
    line.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
    el.prepend(line);
    while (el.childNodes.length > 200) el.lastChild.remove();
  }

  // The server's byte counts for this page's connections, once a second.
  async function stats() {
    const response = await fetch(`/stats?session=${session}`, { cache: 'no-store' });
    return response.json();
  }
  async function pollStats() {
    try {
      const s = await stats();
      for (const [transport, t] of Object.entries(s.transports)) {
        set(`${transport}.down`, bytes(t.written));
        set(`${transport}.up`, bytes(t.read));
        set(`${transport}.connections`, `${t.open} open / ${t.connections}`);
      }
      set('server.slow', s.slow_ms ? `slowed: +${s.slow_ms} ms per message` : '');
    } catch (e) {
      set('server.slow', 'server unreachable');
    }
  }
  setInterval(pollStats, 1000);

  async function control(path) {
    try {
      const response = await fetch(path, { method: 'POST' });
      log('controls', await response.text());
    } catch (e) {
      log('controls', `control failed: ${e}`, true);
    }
  }
  function wireControls() {
    for (const el of document.querySelectorAll('[data-control]')) {
      const kind = el.dataset.control;
      if (kind === 'cut') el.onclick = () => control(`/control/cut?session=${session}`);
      if (kind === 'pause') el.onclick = () => control('/control/pause?ms=3000');
      if (kind === 'slow') el.onchange = () => control(`/control/slow?ms=${el.value}`);
    }
  }
  document.addEventListener('DOMContentLoaded', wireControls);

  // The reconnection wait an application has to compute for WebSocket by itself: doubled
  // after each failure, capped, half of it random ("equal jitter").
  function backoff(attempt) {
    const ceiling = Math.min(5000, 100 * 2 ** Math.max(0, attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }
  async function until(condition, ms, what) {
    const deadline = performance.now() + ms;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  }
  // The one line the browser test reads from the console.
  function result(value) { console.log(`RESULT ${JSON.stringify(value)}`); }

  return { session, autotest, params, url, wsUrl, set, count, state, counters, bytes, rtt,
    log, stats, backoff, sleep, until, result };
})();
