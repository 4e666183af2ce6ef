// list.js: a card with filters, a paginated table (EMQX's {data, meta})
// and a pager, for the subscriptions, topics and banned pages.

import { get } from './api.js';
import { h, table, pager, loading, empty, searchBox, icon, ICON_REFRESH, debounce } from './ui.js';

// pagedList(ctx, opts) -> {el, reload}.  opts: prefix (ids), path, title,
// columns, rowKey, emptyText(state), state ({page, limit, ...filters}, kept
// by the caller), filters [{param, label, kind: 'search'|'text'|'select',
// options: [[value, label]...]}], actions (nodes for the card head).
export function pagedList(ctx, opts) {
  const st = opts.state;
  const body = h('div', loading(`Loading ${opts.noun || 'rows'}…`));
  const foot = h('div.card-foot');
  foot.hidden = true;
  const filters = (opts.filters || []).map((f) => {
    const id = `${opts.prefix}-filter-${f.param}`;
    const set = (v) => { st[f.param] = v; st.page = 1; reload(); };
    if (f.kind === 'select') {
      return h('select', { id, 'data-testid': id, 'aria-label': f.label, onchange: (e) => set(e.target.value) },
        f.options.map(([v, l]) => h('option', { value: v, selected: String(st[f.param] ?? '') === String(v) }, l)));
    }
    if (f.kind === 'search') return searchBox(id, f.label, st[f.param], set);
    return h('input', {
      id, 'data-testid': id, type: 'text', placeholder: f.label, 'aria-label': f.label, value: st[f.param] || '',
      oninput: debounce((e) => set(e.target.value.trim())),
    });
  });
  const el = h('section.card', { 'data-testid': opts.prefix + '-card' },
    h('div.card-head',
      opts.title ? h('h2', opts.title) : null,
      filters,
      h('span.spacer'),
      opts.actions || null,
      h('button.btn', { id: opts.prefix + '-refresh', 'data-testid': opts.prefix + '-refresh', onclick: () => reload() }, icon(ICON_REFRESH), 'Refresh')),
    body, foot);

  async function reload() {
    const query = { page: st.page, limit: st.limit };
    for (const f of opts.filters || []) query[f.param] = st[f.param];
    try {
      const r = await get(opts.path, query);
      if (!ctx.alive()) return;
      const rows = (r && r.data) || [];
      if (!rows.length && st.page > 1) { st.page--; return reload(); }
      const filtered = (opts.filters || []).some((f) => st[f.param]);
      body.replaceChildren(table(opts.columns, rows, {
        testid: opts.prefix + '-table',
        rowKey: opts.rowKey,
        empty: opts.emptyText(filtered),
      }));
      foot.hidden = false;
      foot.replaceChildren(pager(opts.prefix, { ...(r.meta || {}), page: st.page, limit: st.limit }, rows.length,
        (p) => { st.page = p; reload(); }, (l) => { st.limit = l; st.page = 1; reload(); }));
    } catch (e) {
      if (!ctx.alive()) return;
      body.replaceChildren(empty(`Could not load the ${opts.noun || 'rows'}.`));
      ctx.fail(e);
    }
  }
  reload();
  return { el, reload };
}
