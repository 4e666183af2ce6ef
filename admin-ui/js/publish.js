// publish.js: publish a message from the dashboard (POST /publish).

import { post } from './api.js';
import { h } from './ui.js';
import { sampler } from './sampler.js';

export const title = 'Publish';

// The form keeps its values while the tab lives.
const state = { topic: '', payload: '', qos: '0', retain: false, encoding: 'plain' };

export function render(view, ctx) {
  const topic = h('input', { id: 'publish-topic', 'data-testid': 'publish-topic', type: 'text', placeholder: 'e.g. devices/42/command', value: state.topic, required: true });
  const payload = h('textarea', { id: 'publish-payload', 'data-testid': 'publish-payload', rows: 6, placeholder: '{"msg": "hello"}' });
  payload.value = state.payload;
  const qos = h('select', { id: 'publish-qos', 'data-testid': 'publish-qos' }, ['0', '1', '2'].map((q) => h('option', { value: q, selected: q === state.qos }, 'QoS ' + q)));
  const retain = h('input', { id: 'publish-retain', 'data-testid': 'publish-retain', type: 'checkbox', checked: state.retain });
  const encoding = h('select', { id: 'publish-encoding', 'data-testid': 'publish-encoding' },
    h('option', { value: 'plain', selected: state.encoding === 'plain' }, 'Plain text'),
    h('option', { value: 'base64', selected: state.encoding === 'base64' }, 'Base64'));
  const submit = h('button.btn.btn-primary', { id: 'publish-submit', 'data-testid': 'publish-submit', type: 'submit' }, 'Publish');
  const result = h('div.result', { id: 'publish-result', 'data-testid': 'publish-result', hidden: true, role: 'status' });

  const save = () => Object.assign(state, { topic: topic.value, payload: payload.value, qos: qos.value, retain: retain.checked, encoding: encoding.value });

  function show(kind, text) {
    result.className = 'result ' + kind;
    result.dataset.kind = kind;
    result.textContent = text;
    result.hidden = false;
  }

  async function send(ev) {
    ev.preventDefault();
    save();
    const t = topic.value.trim();
    if (!t) { show('bad', 'Enter a topic.'); topic.focus(); return; }
    if (/[+#]/.test(t)) { show('bad', 'A topic to publish to cannot hold the wildcards + or #.'); topic.focus(); return; }
    const body = { topic: t, payload: payload.value, qos: +qos.value, retain: retain.checked };
    if (encoding.value === 'base64') body.payload_encoding = 'base64';
    submit.disabled = true;
    result.hidden = true;
    try {
      const r = await post('/publish', body);
      if (!ctx.alive()) return;
      if (r && r.message === 'no_matching_subscribers') {
        show('warn', `Published (id ${r.id}), but no subscriber matched the topic` + (body.retain ? '; it is kept as the retained message.' : '.'));
      } else {
        show('ok', `Published to ${t}. Message id: ${r && r.id ? r.id : '–'}`);
      }
      sampler.poke();
    } catch (e) {
      if (!ctx.alive()) return;
      show('bad', `Not published: ${e.code}: ${e.message}`);
      ctx.fail(e);
    } finally {
      submit.disabled = false;
    }
  }

  view.append(h('section.card',
    h('div.card-head', h('h2', 'Publish a message')),
    h('div.card-body',
      h('form.form-grid', { id: 'publish-form', 'data-testid': 'publish-form', novalidate: true, onsubmit: send, oninput: save, onchange: save },
        h('label', { for: 'publish-topic' }, 'Topic'), topic,
        h('label', { for: 'publish-payload' }, 'Payload'), payload,
        h('label', { for: 'publish-encoding' }, 'Encoding'), h('div', encoding),
        h('label', { for: 'publish-qos' }, 'QoS'), h('div', qos),
        h('span'), h('label.check', { for: 'publish-retain' }, retain, 'Retain'),
        h('span'), h('div', submit),
        h('span'), result))));
}
