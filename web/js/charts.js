// Small inline SVG charts drawn here (no library): a bar chart for a series of labelled values.
// Each chart has a title for screen readers and the same numbers are in a table next to it.

import { s } from './dom.js';

export function barChart(title, points, { width = 560, height = 200, unit = '' } = {}) {
  const pad = { l: 44, r: 10, t: 14, b: 44 };
  const max = Math.max(1, ...points.map((p) => p.value));
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const step = points.length ? w / points.length : w;
  const barW = Math.max(4, Math.min(40, step * 0.7));
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart', 'aria-label': title,
  }, s('title', {}, title));
  // Axis and three grid lines with their values.
  for (let i = 0; i <= 3; i += 1) {
    const v = (max * i) / 3;
    const y = pad.t + hgt - (hgt * i) / 3;
    svg.append(s('line', { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: pad.l - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' },
      Number.isInteger(v) ? v : v.toFixed(1)));
  }
  points.forEach((p, i) => {
    const bh = (hgt * p.value) / max;
    const x = pad.l + i * step + (step - barW) / 2;
    const y = pad.t + hgt - bh;
    svg.append(s('rect', { x, y, width: barW, height: Math.max(0, bh), class: p.highlight ? 'bar hi' : 'bar' },
      s('title', {}, `${p.label}: ${p.value}${unit}`)));
    if (points.length <= 16 || i % Math.ceil(points.length / 16) === 0) {
      svg.append(s('text', {
        x: x + barW / 2, y: height - pad.b + 16, 'text-anchor': 'middle', class: 'axis',
      }, p.label));
    }
  });
  return svg;
}
