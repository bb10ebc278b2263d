// URL state: #nic=vm1, #trace=vm1,10.2.1.4,tcp,80, or both joined by &.

import { ui, S } from './state.js';

export function parseHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const out = { nic: params.get('nic') || null, trace: null };
  const t = params.get('trace');
  if (t) {
    const [from, to, protocol, port] = t.split(',').map((s) => s.trim());
    if (from && to) out.trace = { from, to, protocol: (protocol || 'icmp').toLowerCase(), port: port || null };
  }
  return out;
}

export function writeHash() {
  const parts = [];
  if (ui.selected) parts.push(`nic=${encodeURIComponent(ui.selected)}`);
  if (S.traceQuery) parts.push(`trace=${traceKey(S.traceQuery).split(',').map(encodeURIComponent).join(',')}`);
  const hash = parts.length ? `#${parts.join('&')}` : '';
  if (hash !== location.hash) history.replaceState(null, '', hash || location.pathname + location.search);
}

export function traceKey(q) {
  return q ? [q.from, q.to, q.protocol, q.port].filter((x) => x !== null && x !== '').join(',') : '';
}
