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
      sampleBytes(s);
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

  // --- The wire view: this page's own connections, annotated by the server line by line as
  // `wirelab tap` annotates them (`/wire?session=S`, an event stream). ---
  const wire = { lines: [], count: 0, paused: false };
  const WIRE_KEPT = 2000;
  function openWire(log) {
    const source = new EventSource(`/wire?session=${session}`);
    source.onmessage = (e) => {
      wire.count += 1;
      if (wire.lines.length < WIRE_KEPT) wire.lines.push(e.data);
      if (wire.paused) return;
      const line = document.createElement('div');
      // "#12 sse S->C ...": the transport names the colour.
      const transport = e.data.split(' ')[1] || '';
      line.className = `w-${transport}${e.data.includes(' S->C ') ? ' down' : ''}`;
      line.textContent = e.data;
      const follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(line);
      while (log.childNodes.length > 600) log.firstChild.remove();
      if (follow) log.scrollTop = log.scrollHeight;
    };
  }

  // --- Small live plots, one series per transport, drawn on a canvas. ---
  function plot(title, unit) {
    const box = document.createElement('div');
    box.className = 'plot';
    box.innerHTML = `<div class="plot-title">${title}</div><canvas width="560" height="150"></canvas>`;
    const canvas = box.querySelector('canvas');
    const series = {};
    const colors = getComputedStyle(document.documentElement);
    function add(name, value) {
      const points = (series[name] = series[name] || []);
      points.push(value);
      if (points.length > 60) points.shift();
      draw();
    }
    function draw() {
      const g = canvas.getContext('2d');
      const w = canvas.width, h = canvas.height, pad = 24;
      g.clearRect(0, 0, w, h);
      const all = Object.values(series).flat();
      const top = Math.max(1, ...all) * 1.15;
      g.strokeStyle = '#dee2e6';
      g.fillStyle = '#6c757d';
      g.font = '12px system-ui, sans-serif';
      for (const f of [0, 0.5, 1]) {
        const y = h - pad - f * (h - 2 * pad);
        g.beginPath(); g.moveTo(pad * 2, y); g.lineTo(w, y); g.stroke();
        g.fillText(`${(top * f).toFixed(top * f < 10 ? 1 : 0)}`, 0, y + 4);
      }
      let legend = pad * 2;
      for (const [name, points] of Object.entries(series)) {
        const color = colors.getPropertyValue(`--${name}`).trim() || '#495057';
        g.strokeStyle = color;
        g.lineWidth = 2;
        g.beginPath();
        points.forEach((v, i) => {
          const x = pad * 2 + (i / 59) * (w - pad * 2);
          const y = h - pad - (v / top) * (h - 2 * pad);
          if (i) g.lineTo(x, y); else g.moveTo(x, y);
        });
        g.stroke();
        const last = points[points.length - 1];
        g.fillStyle = color;
        g.fillText(`${name}: ${last.toFixed(last < 10 ? 1 : 0)} ${unit}`, legend, 12);
        legend += 150;
      }
      g.lineWidth = 1;
    }
    return { box, add, series };
  }
  const plots = {};

  // Bytes on the wire per message, per transport: what the server wrote since the last
  // sample, over the messages this page received in that time.
  const previous = {};
  function sampleBytes(s) {
    for (const [transport, t] of Object.entries(s.transports)) {
      const messages = counters[`${transport}.messages`];
      const before = previous[transport];
      previous[transport] = { written: t.written, messages };
      if (!plots.bytes || !before || !messages || messages <= before.messages) continue;
      plots.bytes.add(transport, (t.written - before.written) / (messages - before.messages));
    }
  }

  // Arrival of the same message over each transport: how long after the first transport
  // the other delivered it (the same clock, so no clock skew).
  const arrivals = new Map();
  function arrived(transport, key) {
    const now = performance.now();
    const first = arrivals.get(key);
    if (first === undefined) {
      arrivals.set(key, now);
      if (arrivals.size > 200) arrivals.delete(arrivals.keys().next().value);
      if (plots.arrival) plots.arrival.add(transport, 0);
      return;
    }
    if (plots.arrival) plots.arrival.add(transport, now - first);
  }

  function addWireView() {
    const main = document.querySelector('main');
    if (!main || !document.querySelector('.pair')) return;
    const section = document.createElement('section');
    section.className = 'wire';
    section.innerHTML = `<h2>On the wire</h2>
<p class="note">This page's own connections, annotated by the server as <code>wirelab tap</code>
annotates them: HTTP heads, chunk sizes, event lines, frame headers (opcode, mask, length).
Bytes per message is what the server wrote for each message this page received; arrival is how
long after the first transport the other delivered the same message.</p>
<div class="plots"></div>
<p><button id="wire-pause">Pause</button> <span class="note" data-counter="wire.count"></span></p>
<div class="log wire-log"></div>`;
    main.append(section);
    plots.bytes = plot('Bytes on the wire per message', 'B');
    section.querySelector('.plots').append(plots.bytes.box);
    if (document.body.dataset.arrival === 'yes') {
      plots.arrival = plot('Arrival of the same message, after the first transport', 'ms');
      section.querySelector('.plots').append(plots.arrival.box);
    }
    const pause = section.querySelector('#wire-pause');
    pause.onclick = () => {
      wire.paused = !wire.paused;
      pause.textContent = wire.paused ? 'Resume' : 'Pause';
    };
    openWire(section.querySelector('.wire-log'));
    setInterval(() => set('wire.count', `${wire.count} lines`), 1000);
    // ?hold=1 keeps the page "loading" (an image whose source is an event stream that never
    // ends), so that a headless browser's `--screenshot --timeout=N` shoots after N ms of
    // traffic instead of at the load event.
    if (params.get('hold') === '1') {
      const img = new Image();
      img.src = `/wire?session=hold-${session}`;
      img.hidden = true;
      document.body.append(img);
    }
  }
  document.addEventListener('DOMContentLoaded', addWireView);

  return { session, autotest, params, url, wsUrl, set, count, state, counters, bytes, rtt,
    log, stats, backoff, sleep, until, result, wire, plots, arrived };
})();
