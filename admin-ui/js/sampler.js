// sampler.js: polls /metrics and /stats (aggregated over the cluster) every
// few seconds while someone is logged in, and keeps ten minutes of history
// for the overview's charts: message rates from counter deltas, and the
// connection count.

import { get } from './api.js';

export const POLL_MS = 2000;
export const WINDOW_MS = 10 * 60 * 1000;

const state = {
  timer: null,
  running: false,
  gen: 0,              // bumped by start and stop: a stale poll drops out
  inflight: false,
  again: false,        // poked during a poll: poll again right after it
  prev: null,          // {t, metrics} of the previous poll
  stats: null,         // latest /stats?aggregate=true
  metrics: null,       // latest /metrics?aggregate=true
  error: null,         // the last poll's error, null once a poll succeeds
  series: { in: [], out: [], conns: [], subs: [] },
  listeners: new Set(),
};

export const sampler = {
  get stats() { return state.stats; },
  get metrics() { return state.metrics; },
  get error() { return state.error; },
  get series() { return state.series; },
  subscribe(fn) {
    state.listeners.add(fn);
    return () => state.listeners.delete(fn);
  },
  start() {
    if (state.running) return;
    state.running = true;
    state.gen++;
    state.inflight = state.again = false;
    tick();
  },
  stop() {
    state.running = false;
    state.gen++;
    clearTimeout(state.timer);
    state.prev = state.stats = state.metrics = state.error = null;
    state.series = { in: [], out: [], conns: [], subs: [] };
  },
  // Poll now (after an action that changes the numbers).
  poke() {
    if (!state.running) return;
    if (state.inflight) {
      state.again = true;
      return;
    }
    clearTimeout(state.timer);
    tick();
  },
};

function trim(arr, now) {
  while (arr.length && arr[0][0] < now - WINDOW_MS - 60000) arr.shift();
}

// A counter by its EMQX name, 0 when absent.
const counter = (m, k) => (m && typeof m[k] === 'number' ? m[k] : 0);

// One poll at a time: a poke during a poll asks for another right after.
async function tick() {
  const gen = state.gen;
  state.inflight = true;
  try {
    const [metrics, stats] = await Promise.all([
      get('/metrics', { aggregate: true }),
      get('/stats', { aggregate: true }),
    ]);
    if (gen !== state.gen) return;
    const now = Date.now();
    const s = state.series;
    const prev = state.prev;
    // A rate needs a second or more between its two samples; a poke
    // right after a poll keeps the older baseline.
    if (!prev) {
      state.prev = { t: now, metrics };
    } else if (now - prev.t >= 1000) {
      const dt = (now - prev.t) / 1000;
      const d = (k) => Math.max(0, counter(metrics, k) - counter(prev.metrics, k)) / dt;
      s.in.push([now, d('messages.received')]);
      s.out.push([now, d('messages.sent')]);
      state.prev = { t: now, metrics };
    }
    s.conns.push([now, counter(stats, 'connections.count')]);
    s.subs.push([now, counter(stats, 'subscriptions.count')]);
    for (const a of Object.values(s)) trim(a, now);
    state.metrics = metrics;
    state.stats = stats;
    state.error = null;
  } catch (e) {
    if (gen !== state.gen) return;
    state.error = e;
  } finally {
    if (gen === state.gen) state.inflight = false;
  }
  for (const fn of state.listeners) {
    try { fn(); } catch (e) { console.warn(e); }
  }
  if (!state.running) return;
  clearTimeout(state.timer);
  if (state.again) {
    state.again = false;
    tick();
  } else {
    state.timer = setTimeout(tick, POLL_MS);
  }
}
