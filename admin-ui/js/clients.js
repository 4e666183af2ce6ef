// clients.js: the clients table, search, paging, the details drawer, kick.

import { get, del, seg } from './api.js';
import {
  h, $, num, datetime, protoName, hostPort, badge, table, pager, loading, empty,
  searchBox, icon, ICON_REFRESH, confirmDialog, toast, yesNo, bytes,
} from './ui.js';
import { sampler } from './sampler.js';

export const title = 'Clients';

// Kept while the tab lives, so that coming back keeps the search and page.
const state = { page: 1, limit: 20, like: '', conn: '' };

const count = (n, what) => `${num(n)} ${what}${n === 1 ? '' : 's'}`;

function stateBadge(c) {
  const on = c.connected ?? c.conn_state === 'connected';
  return badge(on ? 'connected' : (c.conn_state || 'disconnected'), on ? 'ok' : 'off');
}

export function render(view, ctx) {
  // #/clients?like=ID (from the subscriptions page) searches for ID.
  const q = new URLSearchParams(location.hash.split('?')[1] || '');
  if (q.has('like')) { state.like = q.get('like'); state.page = 1; }
  let selected = null;     // the client id whose details are open
  let drawer = null;
  const body = h('div', loading('Loading clients…'));
  const foot = h('div.card-foot');
  foot.hidden = true;

  view.append(h('section.card',
    h('div.card-head',
      searchBox('clients-search', 'Search client ID', state.like, (v) => { state.like = v; state.page = 1; load(); }),
      h('select', { id: 'clients-state', 'data-testid': 'clients-state', 'aria-label': 'Connection state', onchange: (e) => { state.conn = e.target.value; state.page = 1; load(); } },
        h('option', { value: '', selected: state.conn === '' }, 'All states'),
        h('option', { value: 'connected', selected: state.conn === 'connected' }, 'Connected'),
        h('option', { value: 'disconnected', selected: state.conn === 'disconnected' }, 'Disconnected')),
      h('span.spacer'),
      h('button.btn', { id: 'clients-refresh', 'data-testid': 'clients-refresh', onclick: () => load() }, icon(ICON_REFRESH), 'Refresh')),
    body, foot));

  async function load() {
    try {
      const r = await get('/clients', {
        page: state.page, limit: state.limit, like_clientid: state.like, conn_state: state.conn,
      });
      if (!ctx.alive()) return;
      const rows = r.data || [];
      const meta = r.meta || {};
      if (!rows.length && state.page > 1) { state.page--; return load(); }
      body.replaceChildren(table([
        { key: 'clientid', label: 'Client ID', render: (c) => h('a', { href: '#/clients', 'data-testid': 'client-link', onclick: (e) => { e.preventDefault(); openDetails(c.clientid); } }, c.clientid) },
        { key: 'username', label: 'Username', cls: 'opt', render: (c) => c.username || h('span.muted', '–') },
        { key: 'ip', label: 'IP address', render: (c) => h('span.mono', hostPort(c.ip_address, c.port)) },
        { key: 'proto', label: 'Protocol', cls: 'opt', render: protoName },
        { key: 'keepalive', label: 'Keepalive', num: true, cls: 'opt', render: (c) => (c.keepalive !== undefined ? c.keepalive + ' s' : '–') },
        { key: 'state', label: 'State', render: stateBadge },
        { key: 'connected_at', label: 'Connected at', cls: 'opt', render: (c) => datetime(c.connected_at) },
      ], rows, {
        testid: 'clients-table',
        rowKey: (c) => c.clientid,
        selected,
        onRow: (c) => openDetails(c.clientid),
        empty: state.like ? `No client ID contains “${state.like}”` : 'No clients are connected',
      }));
      foot.hidden = false;
      foot.replaceChildren(pager('clients', { ...meta, page: state.page, limit: state.limit }, rows.length,
        (p) => { state.page = p; load(); }, (l) => { state.limit = l; state.page = 1; load(); }));
    } catch (e) {
      if (!ctx.alive()) return;
      body.replaceChildren(empty('Could not load the clients.'));
      ctx.fail(e);
    }
  }

  function closeDetails() {
    if (drawer) drawer.remove();
    drawer = null;
    selected = null;
    for (const tr of view.querySelectorAll('tr.selected')) tr.classList.remove('selected');
  }

  async function openDetails(id) {
    closeDetails();
    selected = id;
    for (const tr of view.querySelectorAll('tr[data-key]')) tr.classList.toggle('selected', tr.dataset.key === id);
    const content = h('div.drawer-body', loading());
    const kick = h('button.btn.btn-danger', { id: 'client-kick', 'data-testid': 'client-kick', disabled: true, onclick: () => kickOut(id) }, 'Kick out');
    drawer = h('div', { id: 'client-details-wrap' },
      h('div.drawer-backdrop', { onclick: closeDetails }),
      h('aside.drawer', { id: 'client-details', 'data-testid': 'client-details', 'data-clientid': id, role: 'dialog', 'aria-label': 'Client details' },
        h('div.drawer-head',
          h('h2', { 'data-testid': 'client-details-title' }, id),
          h('button.icon-btn', { id: 'client-details-close', 'data-testid': 'client-details-close', 'aria-label': 'Close', onclick: closeDetails }, '×')),
        content,
        h('div.drawer-foot', h('button.btn', { onclick: closeDetails }, 'Close'), kick)));
    document.body.append(drawer);
    try {
      const [c, subs] = await Promise.all([
        get('/clients/' + seg(id)),
        get('/clients/' + seg(id) + '/subscriptions'),
      ]);
      if (!ctx.alive() || selected !== id) return;
      const kv = (label, value, testid) => [h('dt', label), h('dd', { 'data-testid': testid }, value ?? '–')];
      content.replaceChildren(
        h('section',
          h('h3', 'Connection'),
          h('dl.kv',
            kv('State', stateBadge(c), 'detail-state'),
            kv('Client ID', h('span.mono', c.clientid), 'detail-clientid'),
            kv('Username', c.username || '–', 'detail-username'),
            kv('Node', c.node),
            kv('Listener', c.listener),
            kv('Address', h('span.mono', hostPort(c.ip_address, c.port)), 'detail-address'),
            kv('Protocol', protoName(c), 'detail-proto'),
            kv('Keepalive', c.keepalive !== undefined ? c.keepalive + ' s' : '–'),
            kv('Clean start', yesNo(c.clean_start)),
            kv('Session expiry', c.expiry_interval !== undefined ? c.expiry_interval + ' s' : '–'),
            kv('Durable session', yesNo(c.durable)),
            kv('Connected at', datetime(c.connected_at)),
            kv('Created at', datetime(c.created_at)),
            c.disconnected_at ? kv('Disconnected at', datetime(c.disconnected_at)) : null)),
        h('section',
          h('h3', 'Traffic and queues'),
          h('dl.kv',
            kv('Received', `${count(c.recv_msg, 'message')} · ${count(c.recv_pkt, 'packet')} · ${bytes(c.recv_oct)}`),
            kv('Sent', `${count(c.send_msg, 'message')} · ${count(c.send_pkt, 'packet')} · ${bytes(c.send_oct)}`),
            kv('In flight', num(c.inflight_cnt)),
            kv('Queue', num(c.mqueue_len) + (c.mqueue_dropped !== undefined ? ` (dropped ${num(c.mqueue_dropped)})` : '')),
            kv('Awaiting PUBREL', num(c.awaiting_rel_cnt)))),
        h('section',
          h('h3', `Subscriptions (${subs.length})`),
          h('div.card', table([
            { key: 'topic', label: 'Topic', render: (s) => h('span.mono', s.topic), cls: 'wrap' },
            { key: 'qos', label: 'QoS', num: true },
            { key: 'nl', label: 'NL', num: true },
            { key: 'rap', label: 'RAP', num: true },
            { key: 'rh', label: 'RH', num: true },
          ], subs, { testid: 'client-subscriptions', empty: 'No subscriptions' }))),
      );
      kick.disabled = false;
    } catch (e) {
      if (!ctx.alive() || selected !== id) return;
      content.replaceChildren(empty(e.status === 404 ? 'This client is gone.' : 'Could not load the client.'));
      ctx.fail(e);
    }
  }

  async function kickOut(id) {
    const ok = await confirmDialog('Kick out this client?', `The connection of “${id}” is closed and its session ends.`, 'Kick out');
    if (!ok || !ctx.alive()) return;
    try {
      await del('/clients/' + seg(id));
    } catch (e) {
      ctx.fail(e);
      return;
    }
    closeDetails();
    toast(`Kicked out ${id}`);
    // The connection closes on its own worker: wait (briefly) until the
    // list no longer shows the client connected, then reload the page.
    for (let i = 0; i < 10 && ctx.alive(); i++) {
      try {
        const r = await get('/clients', { clientid: id, conn_state: 'connected', limit: 1 });
        if (!r.data || !r.data.length) break;
      } catch {
        break;
      }
      await new Promise((res) => setTimeout(res, 200));
    }
    if (ctx.alive()) {
      sampler.poke();
      load();
    }
  }

  function onKey(e) { if (e.key === 'Escape' && drawer && !$('#confirm-dialog').open) closeDetails(); }
  document.addEventListener('keydown', onKey);
  load();
  return () => {
    document.removeEventListener('keydown', onKey);
    closeDetails();
  };
}
