// topics.js: the route table: every subscribed topic filter and its node.

import { h } from './ui.js';
import { pagedList } from './list.js';

export const title = 'Topics';

const state = { page: 1, limit: 20, topic: '' };

export function render(view, ctx) {
  const list = pagedList(ctx, {
    prefix: 'topics',
    noun: 'topics',
    path: '/topics',
    state,
    filters: [{ param: 'topic', label: 'Topic', kind: 'search' }],
    rowKey: (t) => `${t.topic} ${t.node}`,
    columns: [
      { key: 'topic', label: 'Topic', cls: 'wrap', render: (t) => h('span.mono', t.topic) },
      { key: 'node', label: 'Node' },
    ],
    emptyText: (filtered) => (filtered ? 'No topic matches the filter' : 'No topics: nobody is subscribed'),
  });
  view.append(list.el);
}
