// overview.js: the cluster at a glance: counts, live charts, the nodes.

import { get } from './api.js';
import { h, num, rate, duration, bytes, badge, table, loading } from './ui.js';
import { lineChart } from './chart.js';
import { sampler, WINDOW_MS } from './sampler.js';

export const title = 'Overview';

const COLORS = { in: '#2563eb', out: '#10b981', conns: '#8b5cf6' };

function stat(id, label) {
  const value = h('div.stat-value', { id: 'stat-' + id, 'data-testid': 'stat-' + id }, '–');
  const sub = h('div.stat-sub', { 'data-testid': 'stat-' + id + '-sub' }, '\u00a0');
  return { el: h('div.card.stat', h('div.stat-label', label), value, sub), value, sub };
}

export function render(view, ctx) {
  const cards = {
    connections: stat('connections', 'Connections'),
    sessions: stat('sessions', 'Sessions'),
    subscriptions: stat('subscriptions', 'Subscriptions'),
    topics: stat('topics', 'Topics'),
    retained: stat('retained', 'Retained messages'),
    msgIn: stat('msg-in', 'Messages in / s'),
    msgOut: stat('msg-out', 'Messages out / s'),
    uptime: stat('uptime', 'Uptime'),
  };
  const legendIn = h('b', '–'), legendOut = h('b', '–'), legendConns = h('b', '–');
  const msgChartBox = h('div', { id: 'chart-messages' });
  const connChartBox = h('div', { id: 'chart-connections' });
  const nodesBody = h('div', loading('Loading nodes…'));

  view.append(
    h('div.stats', { 'data-testid': 'overview-stats' }, Object.values(cards).map((c) => c.el)),
    h('div.grid-2',
      h('section.card',
        h('div.card-head', h('h2', 'Message rate'), h('span.spacer'),
          h('div.legend',
            h('span', h('i', { style: `background:${COLORS.in}` }), 'received ', legendIn),
            h('span', h('i', { style: `background:${COLORS.out}` }), 'sent ', legendOut))),
        h('div.card-body', msgChartBox)),
      h('section.card',
        h('div.card-head', h('h2', 'Connections'), h('span.spacer'),
          h('div.legend', h('span', h('i', { style: `background:${COLORS.conns}` }), 'connected ', legendConns))),
        h('div.card-body', connChartBox))),
    h('section.card',
      h('div.card-head', h('h2', 'Nodes'), h('span.spacer'), h('span.muted.opt', 'Charts show the last 10 minutes; counts refresh every few seconds')),
      nodesBody),
  );

  const msgChart = lineChart(msgChartBox, { windowMs: WINDOW_MS, testid: 'chart-messages' });
  const connChart = lineChart(connChartBox, { windowMs: WINDOW_MS, testid: 'chart-connections' });

  let pollFailed = false;

  function paint() {
    if (!ctx.alive()) return;
    // The banner shows while the polls fail, and goes once they work.
    if (sampler.error) {
      ctx.fail(sampler.error);
      pollFailed = true;
    } else if (pollFailed) {
      ctx.clearError();
      pollFailed = false;
    }
    const st = sampler.stats;
    if (st) {
      const c = cards;
      c.connections.value.textContent = num(st['connections.count']);
      c.connections.sub.textContent = `live ${num(st['live_connections.count'])} · max ${num(st['connections.max'])}`;
      c.sessions.value.textContent = num(st['sessions.count']);
      c.sessions.sub.textContent = `durable ${num(st['durable_sessions.count'] ?? 0)}`;
      c.subscriptions.value.textContent = num(st['subscriptions.count']);
      c.subscriptions.sub.textContent = `shared ${num(st['subscriptions.shared.count'] ?? 0)}`;
      c.topics.value.textContent = num(st['topics.count']);
      c.topics.sub.textContent = st['topics.max'] !== undefined ? `max ${num(st['topics.max'])}` : '\u00a0';
      c.retained.value.textContent = num(st['retained.count']);
      c.retained.sub.textContent = st['retained.max'] !== undefined ? `max ${num(st['retained.max'])}` : '\u00a0';
    }
    const s = sampler.series;
    const last = (a) => (a.length ? a[a.length - 1][1] : undefined);
    cards.msgIn.value.textContent = rate(last(s.in));
    cards.msgOut.value.textContent = rate(last(s.out));
    const m = sampler.metrics;
    if (m) {
      cards.msgIn.sub.textContent = `total ${num(m['messages.received'])}`;
      cards.msgOut.sub.textContent = `total ${num(m['messages.sent'])}`;
    }
    legendIn.textContent = rate(last(s.in));
    legendOut.textContent = rate(last(s.out));
    legendConns.textContent = num(last(s.conns));
    msgChart.update([
      { name: 'received', color: COLORS.in, points: s.in },
      { name: 'sent', color: COLORS.out, points: s.out },
    ]);
    connChart.update([{ name: 'connections', color: COLORS.conns, points: s.conns }]);
  }

  async function loadNodes() {
    try {
      const nodes = await get('/nodes');
      if (!ctx.alive()) return;
      const self = nodes[0] || {};
      const up = nodes.length ? Math.max(...nodes.map((n) => n.uptime || 0)) : undefined;
      cards.uptime.value.textContent = duration(self.uptime ?? up);
      cards.uptime.sub.textContent = self.version ? `version ${self.version}` : '\u00a0';
      nodesBody.replaceChildren(table([
        { key: 'node', label: 'Node', render: (n) => h('strong', n.node) },
        { key: 'node_status', label: 'Status', render: (n) => badge(n.node_status || 'unknown', n.node_status === 'running' ? 'ok' : 'bad') },
        { key: 'role', label: 'Role' },
        { key: 'version', label: 'Version' },
        { key: 'uptime', label: 'Uptime', render: (n) => duration(n.uptime) },
        { key: 'connections', label: 'Connections', num: true, render: (n) => num(n.connections) },
        { key: 'memory', label: 'Memory', num: true, render: (n) => n.memory_used !== undefined ? `${bytes(n.memory_used)} / ${bytes(n.memory_total)}` : '–' },
        { key: 'load', label: 'Load (1/5/15)', num: true, render: (n) => [n.load1, n.load5, n.load15].map((v) => (typeof v === 'number' ? v.toFixed(2) : '–')).join(' / ') },
      ], nodes, { testid: 'nodes-table', empty: 'No nodes', rowKey: (n) => n.node }));
    } catch (e) {
      if (!ctx.alive()) return;
      nodesBody.replaceChildren(h('div.empty', 'Could not load the nodes.'));
      ctx.fail(e);
    }
  }

  const unsubscribe = sampler.subscribe(() => {
    paint();
    loadNodes();
  });
  paint();
  loadNodes();
  sampler.poke();
  // The charts slide with the clock even between polls.
  return () => {
    unsubscribe();
    msgChart.destroy();
    connChart.destroy();
  };
}
