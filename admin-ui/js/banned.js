// banned.js: the banned list: who cannot connect (by client id, username or
// peer address), until when, and why; add and delete entries.

import { post, del, seg } from './api.js';
import { h, datetime, badge, confirmDialog, toast } from './ui.js';
import { pagedList } from './list.js';

export const title = 'Banned';

const state = { page: 1, limit: 20 };
const AS = [['clientid', 'Client ID'], ['username', 'Username'], ['peerhost', 'IP address']];
const asLabel = (a) => (AS.find(([v]) => v === a) || [a, a])[1];
const NOUN = { clientid: 'client ID', username: 'username', peerhost: 'IP address' };

export function render(view, ctx) {
  const result = h('div.result', { id: 'banned-result', 'data-testid': 'banned-result', hidden: true });
  const asSel = h('select', { id: 'banned-as', 'data-testid': 'banned-as' }, AS.map(([v, l]) => h('option', { value: v }, l)));
  const who = h('input', { id: 'banned-who', 'data-testid': 'banned-who', type: 'text', placeholder: 'e.g. sensor-0042', required: true });
  const reason = h('input', { id: 'banned-reason', 'data-testid': 'banned-reason', type: 'text', placeholder: 'optional' });
  const until = h('input', { id: 'banned-until', 'data-testid': 'banned-until', type: 'datetime-local' });
  const addBtn = h('button.btn.btn-primary', { id: 'banned-add', 'data-testid': 'banned-add', type: 'submit' }, 'Ban');

  const form = h('form', { id: 'banned-form', 'data-testid': 'banned-form', novalidate: true, onsubmit: add },
    h('div.form-row',
      h('div.field', h('label', { for: 'banned-as' }, 'Ban by'), asSel),
      h('div.field', { style: 'flex: 1 1 200px' }, h('label', { for: 'banned-who' }, 'Value'), who),
      h('div.field', { style: 'flex: 1 1 200px' }, h('label', { for: 'banned-reason' }, 'Reason'), reason),
      h('div.field', h('label', { for: 'banned-until' }, 'Until (optional)'), until),
      h('div.field', addBtn)));

  async function add(ev) {
    ev.preventDefault();
    const body = { as: asSel.value, who: who.value.trim() };
    if (!body.who) {
      showResult('bad', 'Enter the client ID, username or IP address to ban.');
      who.focus();
      return;
    }
    if (reason.value.trim()) body.reason = reason.value.trim();
    if (until.value) {
      const d = new Date(until.value);
      if (isNaN(d) || d <= new Date()) {
        showResult('bad', 'The end of the ban must be in the future.');
        return;
      }
      body.until = d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
    addBtn.disabled = true;
    try {
      await post('/banned', body);
      if (!ctx.alive()) return;
      showResult('ok', `Banned ${NOUN[body.as] || body.as} “${body.who}”.`);
      who.value = reason.value = until.value = '';
      list.reload();
    } catch (e) {
      if (!ctx.alive()) return;
      showResult('bad', e.code === 'ALREADY_EXISTS' ? `“${body.who}” is banned already.` : `${e.code}: ${e.message}`);
      ctx.fail(e);
    } finally {
      addBtn.disabled = false;
    }
  }

  function showResult(kind, text) {
    result.className = 'result ' + kind;
    result.textContent = text;
    result.hidden = false;
  }

  async function remove(b) {
    const ok = await confirmDialog('Lift this ban?', `${asLabel(b.as)} “${b.who}” can connect again.`, 'Delete');
    if (!ok || !ctx.alive()) return;
    try {
      await del(`/banned/${seg(b.as)}/${seg(b.who)}`);
      toast(`Lifted the ban on “${b.who}”`);
    } catch (e) {
      ctx.fail(e);
    }
    if (ctx.alive()) list.reload();
  }

  const tid = (b) => `banned-delete-${b.as}-${b.who}`.replace(/[^\w-]/g, '-');
  const list = pagedList(ctx, {
    prefix: 'banned',
    noun: 'banned list',
    title: 'Banned list',
    path: '/banned',
    state,
    rowKey: (b) => `${b.as}:${b.who}`,
    columns: [
      { key: 'as', label: 'By', render: (b) => badge(asLabel(b.as), 'plain') },
      { key: 'who', label: 'Who', render: (b) => h('strong.mono', b.who) },
      { key: 'reason', label: 'Reason', cls: 'wrap', render: (b) => b.reason || h('span.muted', '–') },
      { key: 'by', label: 'Banned by' },
      { key: 'at', label: 'Since', render: (b) => datetime(b.at) },
      { key: 'until', label: 'Until', render: (b) => datetime(b.until) },
      { key: 'actions', label: '', cls: 'actions', render: (b) => h('button.btn.btn-sm.btn-outline-danger', { 'data-testid': tid(b), id: tid(b), onclick: () => remove(b) }, 'Delete') },
    ],
    emptyText: () => 'Nobody is banned',
  });

  view.append(
    h('section.card',
      h('div.card-head', h('h2', 'Add to the banned list')),
      h('div.card-body', form, result)),
    list.el);
}
