// ui.js: DOM helpers, the error banner, toasts, the confirm dialog, tables,
// the pager and number/date formatting.

// h('div.card#id', {attrs}, ...children): an element.  Attributes: on*
// (functions) become listeners, 'class', 'dataset' objects, and the rest
// are set as attributes (false/null/undefined skip them).
export function h(tag, attrs, ...children) {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(tag);
  const el = document.createElement(m ? m[1] : tag);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

// An inline icon from a 24x24 path.
export function icon(d, cls) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  if (cls) svg.setAttribute('class', cls);
  const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  p.setAttribute('d', d);
  svg.append(p);
  return svg;
}
export const ICON_SEARCH = 'M15.5 14h-.79l-.28-.27A6.47 6.47 0 0 0 16 9.5 6.5 6.5 0 1 0 9.5 16c1.61 0 3.09-.59 4.23-1.57l.27.28v.79l5 4.99L20.49 19zm-6 0C7.01 14 5 11.99 5 9.5S7.01 5 9.5 5 14 7.01 14 9.5 11.99 14 9.5 14z';
export const ICON_EMPTY = 'M20 6h-8l-2-2H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2zm0 12H4V8h16z';
export const ICON_REFRESH = 'M17.65 6.35A7.96 7.96 0 0 0 12 4a8 8 0 1 0 7.73 10h-2.08A6 6 0 1 1 12 6c1.66 0 3.14.69 4.22 1.78L13 11h7V4z';

// ---- the error banner ----
export function showError(err) {
  const banner = $('#error-banner');
  $('#error-code').textContent = err && err.code ? err.code : 'ERROR';
  let msg = err && err.message ? err.message : String(err);
  if (err && err.status) msg += ' (HTTP ' + err.status + ')';
  $('#error-message').textContent = msg;
  banner.hidden = false;
}
export function clearError() {
  $('#error-banner').hidden = true;
}

// ---- toasts ----
export function toast(text, kind = 'ok') {
  const t = h('div.toast', { class: kind, 'data-testid': 'toast', role: 'status' }, text);
  const box = $('#toasts');
  box.append(t);
  while (box.children.length > 2) box.firstElementChild.remove();
  setTimeout(() => t.remove(), 3500);
}

// ---- confirm(): the modal dialog, resolves true on OK ----
export function confirmDialog(title, text, okLabel = 'OK') {
  const dlg = $('#confirm-dialog');
  if (dlg.open) return Promise.resolve(false);
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
    $('#confirm-cancel').focus();
  });
}

// ---- formatting ----
const nf = new Intl.NumberFormat('en-US');
export function num(n) {
  if (n === undefined || n === null || n === '') return '–';
  return typeof n === 'number' ? nf.format(n) : String(n);
}
export function rate(n) {
  if (n === undefined || n === null || !isFinite(n)) return '–';
  if (n >= 100) return nf.format(Math.round(n));
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(n === 0 ? 0 : 2);
}
export function bytes(n) {
  if (typeof n !== 'number') return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)) + ' ' + u[i];
}
export function duration(ms) {
  if (typeof ms !== 'number' || !isFinite(ms)) return '–';
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s %= 86400;
  const hh = Math.floor(s / 3600); s %= 3600;
  const mm = Math.floor(s / 60); s %= 60;
  if (d) return `${d}d ${hh}h ${mm}m`;
  if (hh) return `${hh}h ${mm}m ${s}s`;
  if (mm) return `${mm}m ${s}s`;
  return `${s}s`;
}
const pad = (n) => String(n).padStart(2, '0');
export function datetime(v) {
  if (v === undefined || v === null || v === '') return '–';
  if (v === 'infinity') return 'never';
  const d = typeof v === 'number' ? new Date(v) : new Date(String(v));
  if (isNaN(d)) return String(v);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function protoName(c) {
  const v = { 3: '3.1', 4: '3.1.1', 5: '5.0' }[c.proto_ver] || c.proto_ver;
  return `${c.proto_name || 'MQTT'} ${v ?? ''}`.trim();
}
export function hostPort(ip, port) {
  if (!ip) return '–';
  const host = String(ip).includes(':') ? `[${ip}]` : ip;
  return port !== undefined && port !== null ? `${host}:${port}` : host;
}
export function yesNo(b) { return b ? 'yes' : 'no'; }

// ---- states ----
export function loading(text = 'Loading…') {
  return h('div.loading', { 'data-testid': 'loading' }, h('span.spinner'), text);
}
export function empty(text) {
  return h('div.empty', { 'data-testid': 'empty' }, icon(ICON_EMPTY), text);
}

// table(columns, rows, opts): columns are {key, label, num?, render?(row)
// -> Node|string, cls?}; opts {testid, empty, rowKey, onRow, selected}.
const colClass = (c) => [c.num ? 'num' : '', c.cls || ''].filter(Boolean).join(' ') || undefined;

export function table(columns, rows, opts = {}) {
  if (!rows.length) return empty(opts.empty || 'Nothing to show');
  const thead = h('thead', h('tr', columns.map((c) => h('th', { class: colClass(c), title: c.title }, c.label))));
  const tbody = h('tbody', rows.map((row) => {
    const key = opts.rowKey ? opts.rowKey(row) : undefined;
    const tr = h('tr', {
      'data-key': key,
      'data-testid': opts.testid ? opts.testid + '-row' : undefined,
      class: [opts.onRow ? 'clickable' : '', key !== undefined && key === opts.selected ? 'selected' : ''].filter(Boolean).join(' ') || undefined,
      onclick: opts.onRow ? (e) => { if (!e.target.closest('button, a, input')) opts.onRow(row); } : undefined,
    }, columns.map((c) => {
      const v = c.render ? c.render(row) : row[c.key];
      return h('td', { class: colClass(c), 'data-col': c.key }, v === undefined || v === null ? '–' : v);
    }));
    return tr;
  }));
  return h('div.table-wrap', h('table.data', { 'data-testid': opts.testid, id: opts.testid }, thead, tbody));
}

// pager(prefix, meta, onPage, onLimit): "count · page N · prev next · per page".
export function pager(prefix, meta, shown, onPage, onLimit) {
  const page = meta.page || 1;
  const limit = meta.limit || 20;
  const first = shown ? (page - 1) * limit + 1 : 0;
  let info = shown ? `${num(first)}–${num(first + shown - 1)}` : 'No rows';
  if (shown && typeof meta.count === 'number') info += ` of ${num(meta.count)}`;
  const hasnext = meta.hasnext !== undefined ? !!meta.hasnext
    : typeof meta.count === 'number' ? page * limit < meta.count : shown === limit;
  return h('div.pager', { 'data-testid': prefix + '-pager' },
    h('span', { 'data-testid': prefix + '-page-info', id: prefix + '-page-info' }, info),
    h('span.spacer'),
    h('label.opt', { for: prefix + '-limit' }, 'Per page'),
    h('select', { id: prefix + '-limit', 'data-testid': prefix + '-limit', onchange: (e) => onLimit(+e.target.value) },
      [10, 20, 50, 100].map((n) => h('option', { value: n, selected: n === limit }, n))),
    h('button.btn.btn-sm', { id: prefix + '-prev', 'data-testid': prefix + '-prev', disabled: page <= 1, onclick: () => onPage(page - 1) }, '‹ Prev'),
    h('span', { 'data-testid': prefix + '-page' }, 'Page ' + page),
    h('button.btn.btn-sm', { id: prefix + '-next', 'data-testid': prefix + '-next', disabled: !hasnext, onclick: () => onPage(page + 1) }, 'Next ›'));
}

export function badge(text, kind) {
  return h('span.badge', { class: kind }, text);
}

export function debounce(fn, ms = 300) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

export function searchBox(id, placeholder, value, oninput) {
  return h('div.search', icon(ICON_SEARCH),
    h('input', { id, 'data-testid': id, type: 'search', placeholder, value: value || '', oninput: debounce((e) => oninput(e.target.value.trim())) }));
}
