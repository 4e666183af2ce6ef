// metrics.js: every counter of /metrics?aggregate=true, grouped by the
// first part of its name (bytes, packets, messages, delivery, client,
// session, ...), with a filter; refreshed every few seconds.

import { get } from './api.js';
import { h, num, loading, empty, searchBox, icon, ICON_REFRESH } from './ui.js';

export const title = 'Metrics';

const REFRESH_MS = 5000;
const state = { filter: '' };

// Groups in the order an operator reads them; the rest follow by name.
const ORDER = ['connections', 'bytes', 'packets', 'messages', 'delivery', 'client', 'session', 'authentication', 'authorization'];

function group(name) {
  const i = name.indexOf('.');
  return i < 0 ? 'other' : name.slice(0, i);
}

export function render(view, ctx) {
  const body = h('div', loading('Loading metrics…'));
  const updated = h('span.muted', { 'data-testid': 'metrics-updated' });
  view.append(
    h('section.card',
      h('div.card-head',
        searchBox('metrics-filter', 'Filter metrics', state.filter, (v) => { state.filter = v; paint(); }),
        h('span.spacer'), updated,
        h('button.btn', { id: 'metrics-refresh', 'data-testid': 'metrics-refresh', onclick: () => load() }, icon(ICON_REFRESH), 'Refresh'))),
    body);

  let data = null;
  function paint() {
    if (!data) return;
    const f = state.filter.toLowerCase();
    const groups = new Map();
    for (const [k, v] of Object.entries(data)) {
      if (k === 'node' || typeof v !== 'number') continue;
      if (f && !k.toLowerCase().includes(f)) continue;
      const g = group(k);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push([k, v]);
    }
    if (!groups.size) {
      body.replaceChildren(h('section.card', empty(f ? `No metric name contains “${state.filter}”` : 'No metrics')));
      return;
    }
    const rank = (g) => { const i = ORDER.indexOf(g); return i < 0 ? ORDER.length : i; };
    const names = [...groups.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    body.replaceChildren(h('div.metrics-grid', { 'data-testid': 'metrics-table', id: 'metrics-table' },
      names.map((g) => h('section.card', { 'data-testid': 'metrics-group-' + g },
        h('div.card-head', h('h2', { style: 'text-transform: capitalize' }, g), h('span.spacer'), h('span.badge.plain', groups.get(g).length)),
        h('table.data',
          h('tbody', groups.get(g).sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) =>
            h('tr', { 'data-key': k },
              h('td.mono', k),
              h('td.num', { 'data-testid': 'metric-' + k }, num(v))))))))));
  }

  async function load() {
    try {
      const m = await get('/metrics', { aggregate: true });
      if (!ctx.alive()) return;
      data = Array.isArray(m) ? m[0] || {} : m || {};
      updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
      paint();
    } catch (e) {
      if (!ctx.alive()) return;
      if (!data) body.replaceChildren(h('section.card', empty('Could not load the metrics.')));
      ctx.fail(e);
    }
  }
  load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}
