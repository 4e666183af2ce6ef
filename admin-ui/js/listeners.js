// listeners.js: the MQTT listeners, with stop, start and restart.

import { get, post, seg } from './api.js';
import { h, num, badge, table, loading, empty, icon, ICON_REFRESH, confirmDialog, toast } from './ui.js';
import { sampler } from './sampler.js';

export const title = 'Listeners';

export function render(view, ctx) {
  const body = h('div', loading('Loading listeners…'));
  view.append(h('section.card',
    h('div.card-head', h('h2', 'MQTT listeners'), h('span.spacer'),
      h('button.btn', { id: 'listeners-refresh', 'data-testid': 'listeners-refresh', onclick: () => load() }, icon(ICON_REFRESH), 'Refresh')),
    body,
    h('div.card-foot.muted', 'Stopping a listener stops new connections; clients already connected through it keep working.')));

  let busy = false;
  async function action(l, verb) {
    if (busy) return;
    if (verb !== 'start') {
      const ok = await confirmDialog(
        verb === 'stop' ? `Stop ${l.id}?` : `Restart ${l.id}?`,
        verb === 'stop'
          ? `The listener on ${l.bind} stops accepting connections until it is started again.`
          : `The listener on ${l.bind} is closed and opened again.`,
        verb === 'stop' ? 'Stop' : 'Restart');
      if (!ok || !ctx.alive()) return;
    }
    busy = true;
    try {
      await post(`/listeners/${seg(l.id)}/${verb}`);
      toast(`${l.id}: ${verb === 'stop' ? 'stopped' : verb === 'start' ? 'started' : 'restarted'}`);
      sampler.poke();
    } catch (e) {
      ctx.fail(e);
    } finally {
      busy = false;
    }
    if (ctx.alive()) load();
  }

  async function load() {
    try {
      const ls = await get('/listeners');
      if (!ctx.alive()) return;
      const tid = (verb, l) => `listener-${verb}-${l.id.replace(/[^\w-]/g, '-')}`;
      body.replaceChildren(table([
        { key: 'id', label: 'ID', render: (l) => h('strong', l.id) },
        { key: 'type', label: 'Type', render: (l) => (l.type || '').toUpperCase() },
        { key: 'bind', label: 'Bind', render: (l) => h('span.mono', l.bind) },
        { key: 'running', label: 'Status', render: (l) => (l.enable === false ? badge('disabled', 'off') : l.running ? badge('running', 'ok') : badge('stopped', 'bad')) },
        { key: 'current_connections', label: 'Connections', num: true, render: (l) => `${num(l.current_connections)} / ${typeof l.max_connections === 'number' && l.max_connections >= 0 ? num(l.max_connections) : '∞'}` },
        {
          key: 'actions', label: '', cls: 'actions', render: (l) => [
            l.running
              ? h('button.btn.btn-sm.btn-outline-danger', { 'data-testid': tid('stop', l), id: tid('stop', l), onclick: () => action(l, 'stop') }, 'Stop')
              : h('button.btn.btn-sm', { 'data-testid': tid('start', l), id: tid('start', l), onclick: () => action(l, 'start') }, 'Start'),
            h('button.btn.btn-sm', { 'data-testid': tid('restart', l), id: tid('restart', l), onclick: () => action(l, 'restart') }, 'Restart'),
          ],
        },
      ], ls, { testid: 'listeners-table', rowKey: (l) => l.id, empty: 'No listeners are configured' }));
    } catch (e) {
      if (!ctx.alive()) return;
      body.replaceChildren(empty('Could not load the listeners.'));
      ctx.fail(e);
    }
  }
  load();
}
