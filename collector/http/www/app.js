// netrv dashboard: plain JavaScript, no framework, nothing loaded from
// elsewhere.  Every name that comes from the cluster (nodes, resources,
// event text) is untrusted: it only ever reaches the page as textContent
// or an SVG text node, never as markup.
'use strict';

const state = {
  token: sessionStorage.getItem('netrv-token') || '',
  verdicts: new Map(), // id -> summary
  filter: '',
  resources: new Map(), // resKey(resource) -> row data
  open: null, // id of the verdict shown
};

// ---- small DOM helpers (text only) ----
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k instanceof Node ? k : String(k));
  return e;
}
const SVGNS = 'http://www.w3.org/2000/svg';
function sv(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}
const $ = (id) => document.getElementById(id);

// ---- numbers and times ----
// TAI nanoseconds do not fit a double: keep big integers exact.
function parseJSON(text) {
  return JSON.parse(text, function (key, value, ctx) {
    if (typeof value === 'number' && !Number.isSafeInteger(value) &&
        ctx && typeof ctx.source === 'string' && /^-?\d+$/.test(ctx.source))
      return BigInt(ctx.source);
    return value;
  });
}
const big = (v) => (typeof v === 'bigint' ? v : BigInt(Math.round(Number(v))));
function fmtDur(ns) {
  if (ns == null) return '–';
  ns = Number(ns);
  const a = Math.abs(ns);
  if (a < 1e3) return ns.toFixed(0) + ' ns';
  if (a < 1e6) return (ns / 1e3).toFixed(1) + ' µs';
  if (a < 1e9) return (ns / 1e6).toFixed(1) + ' ms';
  if (a < 120e9) return (ns / 1e9).toFixed(2) + ' s';
  return (ns / 60e9).toFixed(1) + ' min';
}
function fmtTai(t) {
  if (t == null) return '–';
  const b = big(t);
  const ms = Number(b / 1000000n);
  const sub = (b % 1000000000n).toString().padStart(9, '0');
  const d = new Date(ms);
  return d.toISOString().slice(11, 19) + '.' + sub.slice(0, 6);
}
// The collector's TAI now, advanced by the browser's monotonic clock since
// the last /api/status (SSE news can be newer than that answer).
function nowTai() {
  if (state.nowTai == null) return null;
  return big(state.nowTai) + BigInt(Math.round((performance.now() - state.nowAt) * 1e6));
}
function ago(t) {
  const n = nowTai();
  if (n == null || t == null) return '–';
  const d = n - big(t);
  return fmtDur(Number(d > 0n ? d : 0n));
}

// ---- API ----
async function api(path) {
  const headers = {};
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  const r = await fetch(path, { headers, cache: 'no-store' });
  if (r.status === 401) {
    $('token-form').hidden = false;
    throw new Error('unauthorized');
  }
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return parseJSON(await r.text());
}

// ---- cluster ----
function renderNodes(nodes) {
  const tb = $('nodes').tBodies[0];
  const rows = nodes.map((n) => {
    const tr = el('tr', { 'data-node': n.name });
    tr.append(
      el('td', { class: 'name', text: n.name }),
      el('td', {}, el('span', { class: 'dot ' + n.state }), n.state),
      el('td', { title: 'port ' + (n.port_state || '–') },
        el('span', { class: 'dot ' + n.sync_state }), n.sync_source + ' · ' + n.sync_state),
      el('td', { class: 'num', text: fmtDur(n.offset_ns) }),
      el('td', { class: 'num', text: '±' + fmtDur(n.eps_ns) }),
      el('td', { class: 'num', text: fmtDur(n.watermark_lag_ns) }),
      el('td', { class: 'num', text: Number(n.events_per_s).toFixed(1) }),
      el('td', { class: 'num', text: String(n.events) }),
      el('td', { class: 'num', text: String(n.events_lost) }),
      el('td', { class: 'num', text: n.last_seen_tai_ns == null ? '–' : ago(n.last_seen_tai_ns) + ' ago' }));
    return tr;
  });
  tb.replaceChildren(...rows);
  $('nodes-empty').hidden = nodes.length > 0;
}

function renderBadge(s) {
  const b = $('badge');
  const v = s.verdicts || {};
  const bad = (v.definite || 0) + (v.possible || 0) + (v['clock-bound'] || 0) + (v.protocol || 0);
  const parts = [];
  if (s.verified_tai_ns != null)
    parts.push('verified up to ' + fmtTai(s.verified_tai_ns) + ' TAI', 'lag ' + fmtDur(s.lag_ns));
  parts.push(s.nodes_up + '/' + s.nodes + ' nodes up');
  if (s.incomplete) parts.push(s.incomplete + ' incomplete');
  if (bad) {
    b.className = 'badge violation';
    $('badge-title').textContent = 'VIOLATIONS: ' + (v.definite || 0) + ' definite, ' +
      (v.possible || 0) + ' possible, ' + (v['clock-bound'] || 0) + ' clock-bound, ' +
      (v.protocol || 0) + ' protocol';
  } else if (s.verified_tai_ns != null) {
    b.className = 'badge safe';
    $('badge-title').textContent = 'SAFE so far';
  } else {
    b.className = 'badge unknown';
    $('badge-title').textContent = 'waiting for data';
  }
  $('badge-detail').textContent = parts.join(' · ');
}

async function refreshStatus() {
  try {
    const [s, nodes] = await Promise.all([api('/api/status'), api('/api/nodes')]);
    state.nowTai = s.now_tai_ns;
    state.nowAt = performance.now();
    renderBadge(s);
    renderNodes(nodes);
  } catch (e) { /* shown by the live indicator */ }
}

// ---- locks ----
function matches(name) { return !state.filter || name.includes(state.filter); }
// One resource name can exist in several domains and DLM lockspaces.
function resKey(r) { return r.domain + '\u0000' + (r.lockspace ?? '') + '\u0000' + r.resource; }
function resWhere(r) { return r.domain === 'dlm' ? 'dlm ' + r.lockspace.toString(16) : r.domain; }
function resourceRow(r) {
  const holders = el('td');
  if (!r.holders.length) holders.append(el('span', { class: 'meta', text: 'free' }));
  for (const h of r.holders) {
    const since = ago(h.since_tai_ns);
    holders.append(el('span', { class: 'holder', title: 'since ' + fmtTai(h.since_tai_ns) + ' TAI ±' + fmtDur(h.eps_ns) },
      el('span', { class: 'name', text: h.node }), el('span', { class: 'mode', text: h.mode }), since));
  }
  return el('tr', {}, el('td', { class: 'name', text: r.resource }),
    el('td', { class: 'meta', text: resWhere(r) }), holders);
}
function renderResources() {
  const rows = [];
  for (const r of state.resources.values()) if (matches(r.resource)) rows.push(resourceRow(r));
  $('resources').tBodies[0].replaceChildren(...rows);
  $('resources-empty').hidden = rows.length > 0;
}
async function refreshResources() {
  try {
    const q = state.filter ? '&q=' + encodeURIComponent(state.filter) : '';
    const list = await api('/api/resources?limit=200' + q);
    state.resources = new Map(list.map((r) => [resKey(r), r]));
    renderResources();
  } catch (e) { /* keep what is shown */ }
}

// ---- verdicts ----
function verdictItem(v, fresh) {
  const li = el('li', { tabindex: '0', 'data-id': String(v.id), class: fresh ? 'new' : '' },
    el('span', { class: 'cls ' + v.class, text: v.class }),
    el('span', {}, el('span', { class: 'name', text: v.resource }),
      el('span', { class: 'meta', text: '  ' + v.nodes.join(' ⟷ ') + ' · ' + v.model })),
    el('span', { class: 'meta', text: '#' + v.id + ' ' + fmtTai(v.tai_ns) }));
  li.addEventListener('click', () => openVerdict(v.id));
  li.addEventListener('keydown', (e) => { if (e.key === 'Enter') openVerdict(v.id); });
  return li;
}
function addVerdict(v, fresh) {
  if (state.verdicts.has(String(v.id))) return;
  state.verdicts.set(String(v.id), v);
  const ol = $('verdicts');
  const item = verdictItem(v, fresh);
  const after = [...ol.children].find((li) => Number(li.dataset.id) < Number(v.id));
  ol.insertBefore(item, after || null);
  while (ol.children.length > 200) ol.lastChild.remove();
  $('verdicts-empty').hidden = true;
}
async function refreshVerdicts() {
  try {
    const list = await api('/api/verdicts?limit=100');
    for (const v of list.reverse()) addVerdict(v, false);
  } catch (e) { /* keep */ }
}

// ---- one verdict: "how we got there" ----
function summarize(v) {
  const c = (v.holds || []).filter((h) => h.conflict);
  const who = c.map((h) => h.node + ' (' + h.mode + ')').join(' and ');
  const why = {
    definite: 'held incompatible modes at the same time, even with every timestamp moved by its ε.',
    possible: 'may have held incompatible modes at the same time: within the clocks\' ε the order cannot be decided, and no message orders them.',
    'clock-bound': 'a message contradicts the clocks: its receive is stamped before its send by more than ε allows. Clock sync is lying.',
    protocol: 'broke the protocol model.',
  }[v.class] || '';
  return (who || v.nodes.join(' and ')) + ' on ' + JSON.stringify(v.resource) + ': ' + why;
}

async function openVerdict(id) {
  let v;
  try { v = await api('/api/verdicts/' + encodeURIComponent(id)); } catch (e) { return; }
  state.open = id;
  $('detail').hidden = false;
  $('detail-title').textContent = 'Verdict #' + v.id + ' · ' + v.class + ' · ' + v.model;
  $('detail-summary').textContent = summarize(v);
  state.shown = v;
  $('timeline').replaceChildren(timeline(v, state.zoom));
  $('detail-clocks').tBodies[0].replaceChildren(...(v.clocks || []).map((c) => el('tr', {},
    el('td', { class: 'name', text: c.node }), el('td', { text: c.source }),
    el('td', { text: c.synced ? 'yes' : 'no' }), el('td', { class: 'num', text: fmtDur(c.offset_ns) }),
    el('td', { class: 'num', text: '±' + fmtDur(c.eps_ns) }))));
  $('detail-events').tBodies[0].replaceChildren(...(v.events || []).map((e) => el('tr', {},
    el('td', { text: fmtTai(e.tai_ns) }), el('td', { class: 'name', text: e.node }),
    el('td', { class: 'num', text: '±' + fmtDur(e.eps_ns) }), el('td', { text: e.name }),
    el('td', { class: 'name', text: e.text }))));
  $('detail').scrollIntoView({ block: 'start' });
}

function timeline(v, zoom) {
  const holds = v.holds || [], events = v.events || [], causal = v.causal || [];
  const lanes = [];
  const addLane = (n) => { if (n != null && !lanes.includes(n)) lanes.push(n); };
  (v.nodes || []).forEach(addLane);
  holds.forEach((h) => addLane(h.node));
  events.forEach((e) => addLane(e.node));
  causal.forEach((c) => { addLane(c.from.node); addLane(c.to.node); });

  // Time range, relative to the verdict, in ns (exact integer arithmetic).
  const base = big(v.tai_ns);
  const rel = (t) => Number(big(t) - base);
  let lo = 0, hi = 0;
  const see = (t, eps) => { lo = Math.min(lo, t - (eps || 0)); hi = Math.max(hi, t + (eps || 0)); };
  for (const h of holds) { see(rel(h.grant_ns), h.eps_ns); if (h.release_ns != null) see(rel(h.release_ns), h.eps_ns); }
  for (const e of events) see(rel(e.tai_ns), e.eps_ns);
  for (const c of causal) { see(rel(c.from.tai_ns), 0); see(rel(c.to.tai_ns), 0); }
  if (zoom) {
    // Around the verdict, wide enough to see the epsilons.
    const eps = Math.max(1000, ...holds.filter((h) => h.conflict).map((h) => Number(h.eps_ns) || 0));
    lo = -40 * eps; hi = 40 * eps;
  }
  const span = Math.max(hi - lo, 1000);
  lo -= span * 0.05; hi += span * 0.15; // room for "still held"

  const W = 1000, left = 130, right = 20, top = 26, laneH = 62, bottom = 30;
  const H = top + lanes.length * laneH + bottom;
  const x = (t) => left + (t - lo) / (hi - lo) * (W - left - right);
  const y = (n) => top + lanes.indexOf(n) * laneH;

  const root = sv('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'timeline of verdict ' + v.id });
  const svg = sv('g', { 'clip-path': 'url(#plot)' });
  const defs = sv('defs');
  const mk = sv('marker', { id: 'arrowhead', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' });
  mk.append(sv('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#0b7a75' }));
  const grad = sv('linearGradient', { id: 'fade' });
  grad.append(sv('stop', { offset: '0', 'stop-color': '#d32f2f', 'stop-opacity': '.8' }),
    sv('stop', { offset: '1', 'stop-color': '#d32f2f', 'stop-opacity': '0' }));
  const clip = sv('clipPath', { id: 'plot' });
  clip.append(sv('rect', { x: left, y: 0, width: W - left - right, height: H }));
  defs.append(mk, grad, clip);
  root.append(defs);

  lanes.forEach((n, i) => {
    const g = sv('g', { class: 'lane', 'data-node': n });
    g.append(sv('rect', { class: 'lane-bg', x: left, y: y(n) + 4, width: W - left - right, height: laneH - 8, opacity: i % 2 ? 0.5 : 1 }));
    const label = sv('text', { class: 'lane-label', x: 8, y: y(n) + laneH / 2 + 4 });
    label.textContent = n.length > 16 ? n.slice(0, 15) + '…' : n;
    label.append(sv('title', {}, n));
    g.append(label);
    root.append(g);
  });
  root.append(svg);

  // Axis with ticks relative to the verdict.
  const axisY = top + lanes.length * laneH + 4;
  root.append(sv('line', { class: 'axis', x1: left, x2: W - right, y1: axisY, y2: axisY }));
  for (let i = 0; i <= 5; i++) {
    const t = lo + (hi - lo) * i / 5;
    root.append(sv('line', { class: 'axis', x1: x(t), x2: x(t), y1: axisY, y2: axisY + 4 }));
    root.append(sv('text', { class: 'tick', x: x(t), y: axisY + 16, 'text-anchor': i === 0 ? 'start' : i === 5 ? 'end' : 'middle' }, (t >= 0 ? '+' : '') + fmtDur(t)));
  }

  // Where the conflicting holds overlap.
  const conf = holds.filter((h) => h.conflict);
  if (conf.length >= 2) {
    const start = Math.max(...conf.map((h) => rel(h.grant_ns)));
    const ends = conf.filter((h) => h.release_ns != null).map((h) => rel(h.release_ns));
    const end = ends.length ? Math.min(...ends) : hi;
    if (end > start)
      svg.append(sv('rect', { class: 'overlap', x: x(start), y: top, width: x(end) - x(start), height: lanes.length * laneH }));
  }

  const whisker = (cx, cy, eps) => {
    const g = sv('g', { class: 'whisker-g' });
    const a = x(cx - eps), b = x(cx + eps);
    g.append(sv('line', { class: 'whisker', x1: a, x2: b, y1: cy, y2: cy }),
      sv('line', { class: 'whisker', x1: a, x2: a, y1: cy - 5, y2: cy + 5 }),
      sv('line', { class: 'whisker', x1: b, x2: b, y1: cy - 5, y2: cy + 5 }));
    return g;
  };

  for (const h of holds) {
    const g0 = rel(h.grant_ns), open = h.release_ns == null;
    const g1 = open ? hi : rel(h.release_ns);
    const yy = y(h.node) + 12, hh = 22;
    const r = sv('rect', { class: 'hold' + (h.conflict ? ' conflict' : ''), x: x(g0), y: yy, width: Math.max(x(g1) - x(g0), 2), height: hh, rx: 3 });
    r.append(sv('title', {}, h.node + ' holds ' + h.mode + ' from ' + fmtTai(h.grant_ns) +
      (open ? ' (still held)' : ' to ' + fmtTai(h.release_ns)) + ', ε ±' + fmtDur(h.eps_ns)));
    svg.append(r);
    if (open && h.conflict)
      svg.append(sv('rect', { class: 'open-end', x: x(hi) - 40, y: yy, width: 40, height: hh }));
    if (g1 >= lo && g0 <= hi) // label only what is in view
      svg.append(sv('text', { class: 'event-label', x: Math.max(x(g0), left) + 4, y: yy + 15 }, h.mode + (open ? ' (held)' : '')));
    svg.append(whisker(g0, yy + hh / 2, h.eps_ns || 0));
    if (!open) svg.append(whisker(g1, yy + hh / 2, h.eps_ns || 0));
  }

  events.forEach((e, i) => {
    const t = rel(e.tai_ns), cy = y(e.node) + laneH - 14;
    const c = sv('circle', { class: 'event', cx: x(t), cy, r: 3.5 });
    c.append(sv('title', {}, fmtTai(e.tai_ns) + ' ' + e.node + ' ' + e.name + ': ' + e.text));
    svg.append(c);
    if (e.eps_ns) svg.append(whisker(t, cy, e.eps_ns));
    if (events.length <= 16)
      svg.append(sv('text', { class: 'event-label', x: x(t) + 5, y: cy + (i % 2 ? 11 : -5) }, e.text));
  });

  for (const c of causal) {
    if (!lanes.includes(c.from.node) || !lanes.includes(c.to.node)) continue;
    const a = sv('line', { class: 'causal', x1: x(rel(c.from.tai_ns)), y1: y(c.from.node) + laneH - 14,
      x2: x(rel(c.to.tai_ns)), y2: y(c.to.node) + laneH - 14, 'marker-end': 'url(#arrowhead)' });
    a.append(sv('title', {}, c.from.node + ' → ' + c.to.node + ' (happens-before)'));
    svg.append(a);
  }

  svg.append(sv('line', { class: 'verdict-line', x1: x(0), x2: x(0), y1: top - 6, y2: axisY }));
  root.append(sv('text', { class: 'tick', x: Math.min(x(0), W - 110), y: top - 10, 'text-anchor': 'middle' }, 'verdict ' + fmtTai(v.tai_ns) + ' TAI'));
  return root;
}

// ---- server-sent events (fetch, so that the token can be sent) ----
async function listen() {
  for (;;) {
    try {
      const headers = { Accept: 'text/event-stream' };
      if (state.token) headers.Authorization = 'Bearer ' + state.token;
      const r = await fetch('/events', { headers, cache: 'no-store' });
      if (r.status === 401) { $('token-form').hidden = false; throw new Error('unauthorized'); }
      if (!r.ok || !r.body) throw new Error('events: ' + r.status);
      setLive(true);
      refreshAll();
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let name = 'message'; const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) name = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) onEvent(name, data.join('\n'));
        }
      }
    } catch (e) { /* reconnect below */ }
    setLive(false);
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}
function setLive(on) {
  const l = $('live');
  l.className = 'live ' + (on ? 'on' : 'off');
  l.textContent = on ? 'live' : 'reconnecting';
}
let nodeTimer = null;
function onEvent(name, data) {
  let d;
  try { d = parseJSON(data); } catch (e) { return; }
  if (name === 'verdict') {
    addVerdict(d, true);
    refreshStatus();
  } else if (name === 'resource') {
    state.resources.set(resKey(d), d);
    if (matches(d.resource)) scheduleResources();
  } else if (name === 'node') {
    if (!nodeTimer) nodeTimer = setTimeout(() => { nodeTimer = null; refreshStatus(); }, 200);
  }
}
let resTimer = null;
function scheduleResources() {
  if (!resTimer) resTimer = setTimeout(() => { resTimer = null; renderResources(); }, 250);
}

function refreshAll() { refreshStatus(); refreshResources(); refreshVerdicts(); }

document.addEventListener('DOMContentLoaded', () => {
  $('detail-close').addEventListener('click', () => { $('detail').hidden = true; state.open = null; });
  $('zoom').addEventListener('click', () => {
    state.zoom = !state.zoom;
    $('zoom').textContent = state.zoom ? 'show the whole history' : 'zoom to the verdict (±40 ε)';
    if (state.shown) $('timeline').replaceChildren(timeline(state.shown, state.zoom));
  });
  let t = null;
  $('filter').addEventListener('input', (e) => {
    state.filter = e.target.value;
    renderResources();
    clearTimeout(t);
    t = setTimeout(refreshResources, 300);
  });
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('token').value;
    sessionStorage.setItem('netrv-token', state.token);
    $('token-form').hidden = true;
    refreshAll();
  });
  refreshAll();
  setInterval(refreshStatus, 2000);
  setInterval(refreshResources, 5000);
  listen();
});
