// app.js: the dashboard's entry point: login, the forced password change,
// the shell (nav, header, error banner) and the hash router.

import { api, get, post, session, onUnauthorized, seg } from './api.js';
import { $, showError, clearError, toast } from './ui.js';
import { sampler } from './sampler.js';
import * as overview from './overview.js';
import * as clients from './clients.js';
import * as subscriptions from './subscriptions.js';
import * as topics from './topics.js';
import * as metrics from './metrics.js';
import * as listeners from './listeners.js';
import * as banned from './banned.js';
import * as publish from './publish.js';

const routes = { overview, clients, subscriptions, topics, metrics, listeners, banned, publish };

// ---------------------------------------------------------------- screens

function showScreen(which) {
  $('#auth-screen').hidden = which === 'shell';
  $('#shell').hidden = which !== 'shell';
  $('#login-form').hidden = which !== 'login';
  $('#pwd-form').hidden = which !== 'pwd';
}

function formMessage(el, text) {
  el.textContent = text || '';
  el.hidden = !text;
}

function showLogin(notice) {
  leaveRoute();
  sampler.stop();
  showScreen('login');
  formMessage($('#login-error'), '');
  formMessage($('#login-notice'), notice);
  $('#login-password').value = '';
  const user = $('#login-username');
  (user.value ? $('#login-password') : user).focus();
}

function showPasswordChange() {
  leaveRoute();
  showScreen('pwd');
  $('#pwd-user').textContent = session.get().username;
  for (const id of ['#pwd-old', '#pwd-new', '#pwd-confirm']) $(id).value = '';
  formMessage($('#pwd-error'), '');
  $('#pwd-old').focus();
}

function showShell() {
  const s = session.get();
  showScreen('shell');
  $('#header-user').textContent = s.username;
  $('#nav-version').textContent = s.version ? 'flockmq ' + s.version : 'flockmq';
  loadNode();
  sampler.start();
  route();
}

// The boot decision: no session -> login; default password -> change it.
function boot() {
  const s = session.get();
  if (!s || !s.token) showLogin();
  else if (s.must_change) showPasswordChange();
  else showShell();
}

async function loadNode() {
  try {
    const nodes = await get('/nodes');
    const s = session.get();
    const self = (Array.isArray(nodes) && (nodes.find((n) => n.node === s.node) || nodes[0])) || {};
    $('#header-node').textContent = self.node || 'unknown node';
    $('#header-node-dot').className = 'dot ' + (self.node_status === 'running' ? 'ok' : 'bad');
    if (self.version && !s.version) $('#nav-version').textContent = 'flockmq ' + self.version;
  } catch (e) {
    $('#header-node').textContent = 'unreachable';
    $('#header-node-dot').className = 'dot bad';
  }
}

// ---------------------------------------------------------------- login

async function doLogin(username, password) {
  const r = await api('POST', '/login', { username, password }, { auth: false });
  session.set({
    token: r.token,
    username,
    version: r.version,
    role: r.role,
    must_change: !!r.must_change_password,
  });
  return r;
}

function loginErrorText(e) {
  if (e.status === 401 || e.code === 'BAD_USERNAME_OR_PWD') return 'Bad username or password';
  if (e.status === 429 || e.code === 'LOGIN_LOCKED') {
    return 'Too many failed attempts: this login is locked for now. Try again later.' +
      (e.message && e.message !== e.code ? ' (' + e.message + ')' : '');
  }
  return `${e.code}: ${e.message}`;
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = $('#login-username').value.trim();
  const password = $('#login-password').value;
  formMessage($('#login-notice'), '');
  if (!username || !password) {
    formMessage($('#login-error'), 'Enter your username and password.');
    return;
  }
  const btn = $('#login-submit');
  btn.disabled = true;
  formMessage($('#login-error'), '');
  try {
    const r = await doLogin(username, password);
    if (r.must_change_password) showPasswordChange();
    else showShell();
  } catch (e) {
    formMessage($('#login-error'), loginErrorText(e));
    $('#login-password').select();
  } finally {
    btn.disabled = false;
  }
});

$('#pwd-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const oldPwd = $('#pwd-old').value;
  const newPwd = $('#pwd-new').value;
  const confirm = $('#pwd-confirm').value;
  const err = $('#pwd-error');
  let problem = '';
  if (!oldPwd) problem = 'Enter your current password.';
  else if (newPwd === oldPwd) problem = 'The new password must differ from the current one.';
  else if (newPwd.length < 8 || newPwd.length > 64) problem = 'The new password must have 8 to 64 characters.';
  else if (newPwd !== confirm) problem = 'The new password and its confirmation do not match.';
  formMessage(err, problem);
  if (problem) return;
  const btn = $('#pwd-submit');
  btn.disabled = true;
  const s = session.get();
  try {
    await post(`/users/${seg(s.username)}/change_pwd`, { old_pwd: oldPwd, new_pwd: newPwd });
  } catch (e) {
    btn.disabled = false;
    if (e.status === 401) return;  // the session ended: back at the login
    formMessage(err, e.status === 400
      ? `The password was not changed: ${e.message} (${e.code})`
      : `${e.code}: ${e.message}`);
    return;
  }
  // The server may revoke the user's tokens on a change: log in afresh.
  try {
    await doLogin(s.username, newPwd);
    session.update({ must_change: false });
    btn.disabled = false;
    showShell();
    toast('Password changed');
  } catch (e) {
    btn.disabled = false;
    session.clear();
    showLogin('Your password was changed. Log in with the new one.');
  }
});

$('#pwd-cancel').addEventListener('click', () => logout());

async function logout() {
  const s = session.get();
  if (s && s.token) {
    try {
      await post('/logout', { username: s.username });
    } catch {
      // the token may be gone already; logging out locally is what counts
    }
  }
  session.clear();
  showLogin('You have logged out.');
}
$('#logout').addEventListener('click', () => logout());

let expiring = false;
onUnauthorized(() => {
  if (expiring || !session.get()) return;
  expiring = true;
  session.clear();
  showLogin('Your session has expired. Log in again.');
  expiring = false;
});

// ---------------------------------------------------------------- router

let current = null;       // {name, cleanup, gen}
let generation = 0;

function leaveRoute() {
  if (current && current.cleanup) {
    try { current.cleanup(); } catch (e) { console.warn(e); }
  }
  current = null;
  generation++;
  $('#view').replaceChildren();
  clearError();
  closeNav();
}

function route() {
  const s = session.get();
  if (!s || !s.token || s.must_change || $('#shell').hidden) return;
  let name = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  if (!routes[name]) {
    name = 'overview';
    if (location.hash !== '#/overview') history.replaceState(null, '', '#/overview');
  }
  leaveRoute();
  const mod = routes[name];
  const gen = generation;
  document.title = `${mod.title} · flockmq`;
  $('#page-title').textContent = mod.title;
  for (const a of document.querySelectorAll('#nav a[data-route]')) {
    a.classList.toggle('active', a.dataset.route === name);
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = $('#view');
  view.dataset.page = name;
  const ctx = {
    alive: () => gen === generation,
    // Show an API error in the banner (not the 401s, which end the session).
    fail: (e) => {
      if (gen !== generation || e.status === 401) return;
      showError(e);
    },
    clearError,
  };
  current = { name, cleanup: null };
  try {
    current.cleanup = mod.render(view, ctx) || null;
  } catch (e) {
    console.warn(e);
    showError({ code: 'UI_ERROR', message: String(e) });
  }
}
window.addEventListener('hashchange', route);

// ---------------------------------------------------------------- nav

function closeNav() {
  $('#nav').classList.remove('open');
  $('#nav-backdrop').classList.remove('open');
  $('#nav-toggle').setAttribute('aria-expanded', 'false');
}
$('#nav-toggle').addEventListener('click', () => {
  const open = !$('#nav').classList.contains('open');
  $('#nav').classList.toggle('open', open);
  $('#nav-backdrop').classList.toggle('open', open);
  $('#nav-toggle').setAttribute('aria-expanded', String(open));
});
$('#nav-backdrop').addEventListener('click', closeNav);
$('#nav').addEventListener('click', (e) => { if (e.target.closest('a')) closeNav(); });
$('#error-close').addEventListener('click', clearError);

boot();
