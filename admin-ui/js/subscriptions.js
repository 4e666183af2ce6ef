// subscriptions.js: every subscription in the cluster, filtered and paged.

import { h, badge, yesNo } from './ui.js';
import { pagedList } from './list.js';

export const title = 'Subscriptions';

const state = { page: 1, limit: 20, clientid: '', topic: '', qos: '' };

export function render(view, ctx) {
  const list = pagedList(ctx, {
    prefix: 'subscriptions',
    noun: 'subscriptions',
    path: '/subscriptions',
    state,
    filters: [
      { param: 'clientid', label: 'Client ID', kind: 'search' },
      { param: 'topic', label: 'Topic', kind: 'text' },
      { param: 'qos', label: 'QoS', kind: 'select', options: [['', 'Any QoS'], ['0', 'QoS 0'], ['1', 'QoS 1'], ['2', 'QoS 2']] },
    ],
    rowKey: (s) => `${s.clientid} ${s.topic}`,
    columns: [
      { key: 'clientid', label: 'Client ID', render: (s) => h('a', { href: '#/clients?like=' + encodeURIComponent(s.clientid) }, s.clientid) },
      { key: 'topic', label: 'Topic', cls: 'wrap', render: (s) => h('span.mono', s.topic) },
      { key: 'qos', label: 'QoS', num: true },
      { key: 'nl', label: 'NL', title: 'No Local', render: (s) => (s.nl === undefined ? '–' : yesNo(s.nl)) },
      { key: 'rap', label: 'RAP', title: 'Retain As Published', render: (s) => (s.rap === undefined ? '–' : yesNo(s.rap)) },
      { key: 'rh', label: 'RH', title: 'Retain Handling', num: true },
      { key: 'durable', label: 'Durable', render: (s) => (s.durable ? badge('durable', 'info') : h('span.muted', 'no')) },
      { key: 'node', label: 'Node' },
    ],
    emptyText: (filtered) => (filtered ? 'No subscription matches the filter' : 'No subscriptions'),
  });
  view.append(list.el);
}
