// chart.js: a small time-series line chart drawn as inline SVG.
//
//	const c = lineChart(el, {windowMs, format});
//	c.update([{name, color, points: [[t_ms, value], ...]}, ...]);
//	c.destroy();
//
// It draws at the container's pixel size (so text is never stretched) and
// redraws when the container is resized.

const NS = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// Round numbers for the y axis: max -> {step, top}.
function niceTicks(max, n = 4) {
  if (!(max > 0)) return { step: 1, top: n };
  const raw = max / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  return { step, top: Math.ceil(max / step) * step };
}

function shortNum(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return +(v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return +(v / 1e3).toFixed(1) + 'k';
  if (a >= 10 || v === 0) return String(Math.round(v));
  return String(+v.toFixed(2));
}

const pad = (n) => String(n).padStart(2, '0');
const clock = (t, secs) => {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}` + (secs ? `:${pad(d.getSeconds())}` : '');
};
// Time-axis steps: the first that gives at most one label per 90 px.
const TIME_STEPS = [5, 10, 15, 30, 60, 120, 300, 600].map((s) => s * 1000);

// The x axis spans the data, from minMs up to windowMs, ending now.
export function lineChart(container, { windowMs = 10 * 60 * 1000, minMs = 30 * 1000, testid } = {}) {
  container.classList.add('chart');
  const svg = svgEl('svg', { role: 'img' });
  if (testid) svg.setAttribute('data-testid', testid);
  const emptyEl = document.createElement('div');
  emptyEl.className = 'chart-empty';
  emptyEl.textContent = 'Collecting data…';
  container.append(svg, emptyEl);
  let series = [];

  function draw() {
    const W = container.clientWidth, H = container.clientHeight;
    if (!W || !H) return;
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.replaceChildren();
    const m = { l: 44, r: 12, t: 10, b: 24 };
    const w = W - m.l - m.r, hh = H - m.t - m.b;
    const now = Date.now();
    let first = now;
    for (const s of series) if (s.points.length) first = Math.min(first, s.points[0][0]);
    const span = Math.min(windowMs, Math.max(minMs, now - first));
    const x0 = now - span;
    let max = 0, npts = 0;
    for (const s of series) {
      for (const [t, v] of s.points) if (t >= x0 && v > max) max = v;
      npts = Math.max(npts, s.points.length);
    }
    emptyEl.hidden = npts >= 2;
    const { step, top } = niceTicks(max * 1.1);
    const X = (t) => m.l + ((t - x0) / span) * w;
    const Y = (v) => m.t + hh - (v / top) * hh;

    const grid = svgEl('g', { class: 'grid' });
    const axis = svgEl('g', { class: 'axis' });
    for (let v = 0; v <= top + step / 2; v += step) {
      const y = Y(v).toFixed(1);
      grid.append(svgEl('line', { x1: m.l, x2: W - m.r, y1: y, y2: y }));
      axis.append(svgEl('text', { x: m.l - 8, y: +y + 4, 'text-anchor': 'end' }, shortNum(v)));
    }
    const every = TIME_STEPS.find((st) => (st / span) * w >= 90) || TIME_STEPS[TIME_STEPS.length - 1];
    for (let t = Math.ceil(x0 / every) * every; t <= now; t += every) {
      const x = X(t);
      if (x < m.l + 24 || x > W - m.r - 24) continue;
      grid.append(svgEl('line', { x1: x.toFixed(1), x2: x.toFixed(1), y1: m.t, y2: m.t + hh }));
      axis.append(svgEl('text', { x: x.toFixed(1), y: H - 6, 'text-anchor': 'middle' }, clock(t, every < 60000)));
    }
    svg.append(grid, svgEl('line', { class: 'baseline', x1: m.l, x2: W - m.r, y1: m.t + hh, y2: m.t + hh }), axis);

    for (const s of series) {
      // The points in view, and the one before them, cut at the left edge.
      const i = s.points.findIndex(([t]) => t >= x0);
      if (i < 0) continue;
      const pts = s.points.slice(Math.max(0, i - 1));
      if (pts.length < 2) continue;
      if (pts[0][0] < x0) {
        const [[t0, v0], [t1, v1]] = pts;
        pts[0] = [x0, v0 + ((v1 - v0) * (x0 - t0)) / (t1 - t0)];
      }
      const line = pts.map(([t, v]) => `${X(t).toFixed(1)},${Y(v).toFixed(1)}`).join(' ');
      const area = `${X(pts[0][0]).toFixed(1)},${Y(0)} ${line} ${X(pts[pts.length - 1][0]).toFixed(1)},${Y(0)}`;
      svg.append(svgEl('polygon', { points: area, fill: s.color, 'fill-opacity': 0.08 }));
      svg.append(svgEl('polyline', {
        points: line, fill: 'none', stroke: s.color, 'stroke-width': 2,
        'stroke-linejoin': 'round', 'stroke-linecap': 'round', 'data-series': s.name,
      }));
      const [lt, lv] = pts[pts.length - 1];
      svg.append(svgEl('circle', { cx: X(lt).toFixed(1), cy: Y(lv).toFixed(1), r: 3, fill: s.color }));
    }
  }

  const ro = new ResizeObserver(() => draw());
  ro.observe(container);
  return {
    update(s) { series = s; draw(); },
    destroy() { ro.disconnect(); },
  };
}
