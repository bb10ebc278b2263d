// Small helpers that keep no state: building elements, formatting rates,
// counts, sizes and times, and measuring label text.

import { FONT } from './state.js';

/** Builds an element: el('td', {class: 'num', 'data-field': 'tx'}, 'text', child). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** The first of several spellings of a field (the trace engine uses camelCase in places). */
export function pick(obj, ...keys) {
  for (const k of keys) if (obj && obj[k] !== undefined) return obj[k];
  return undefined;
}

function short(x) {
  if (x >= 10) return String(Math.round(x));
  return String(Math.round(x * 10) / 10);
}

/** 950000000 -> "950 Mb/s"; 0 -> "0". */
export function fmtBits(v) {
  if (!v) return '0';
  const steps = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [d, p] of steps) if (v >= d) return `${short(v / d)} ${p}b/s`;
  return `${short(v)} b/s`;
}

/** 81234 -> "81k"; for packet and byte counts. */
export function fmtCount(v) {
  if (!v) return '0';
  const steps = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [d, p] of steps) if (v >= d) return short(v / d) + p;
  return String(Math.round(v));
}

export function fmtBytes(v) {
  if (!v) return '0 B';
  const steps = [[1e12, 'TB'], [1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']];
  for (const [d, p] of steps) if (v >= d) return `${short(v / d)} ${p}`;
  return `${v} B`;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120000) return `${short(ms / 1000)} s`;
  return `${Math.round(ms / 60000)} min`;
}

export function fmtUs(us) {
  return us >= 1000 ? `${short(us / 1000)} ms` : `${us} µs`;
}

export function zeroRate() {
  return { tx_pps: 0, rx_pps: 0, tx_bps: 0, rx_bps: 0, offloaded_tx_pps: 0, offloaded_rx_pps: 0 };
}

export function offloadShare(r) {
  const all = (r.tx_pps || 0) + (r.rx_pps || 0);
  if (!all) return '–';
  const off = (r.offloaded_tx_pps || 0) + (r.offloaded_rx_pps || 0);
  return `${Math.round((100 * off) / all)}%`;
}

/** "↑950 Mb/s ↓2 Mb/s", each side only when non-zero; "" when idle. */
export function rateLine(r) {
  if (!r) return '';
  const parts = [];
  if (r.tx_bps) parts.push(`↑${fmtBits(r.tx_bps)}`);
  if (r.rx_bps) parts.push(`↓${fmtBits(r.rx_bps)}`);
  return parts.join(' ');
}

const measureCtx = document.createElement('canvas').getContext('2d');
export function textWidth(text, size, weight) {
  measureCtx.font = `${weight || 'normal'} ${size}px ${FONT}`;
  return measureCtx.measureText(text).width;
}

export function clock(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return String(iso || '');
  const p = (n, w) => String(n).padStart(w || 2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
