// Traces: the form, asking /api/trace, drawing the path on the graph (nodes
// of class trace, trace-at where it stopped, edges trace_0..) and listing it
// hop by hop ([data-trace-hop][data-nic]).

import { api, NO_TOKEN } from './auth.js';
import { ui, S, $ } from './state.js';
import { el, pick, fmtUs } from './util.js';
import { arcDistance } from './layout.js';
import { fitGraph } from './graph.js';
import { showTab } from './panels.js';
import { writeHash } from './url.js';

const TRACE_FROM_KINDS = new Set(['nic', 'appliance', 'site_node', 'internet']);

// ---- Form and request --------------------------------------------------

export function fillTraceFrom() {
  const select = $('trace-from');
  const keep = select.value;
  const names = S.names.filter((n) => TRACE_FROM_KINDS.has(S.byName.get(n).data('kind')));
  select.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
  if (names.includes(keep)) select.value = keep;
}

export function readTraceForm() {
  const protocol = $('trace-protocol').value;
  const port = $('trace-port').value.trim();
  return {
    from: $('trace-from').value,
    to: $('trace-to').value.trim(),
    protocol,
    port: protocol === 'icmp' || port === '' ? null : port,
  };
}

function fillTraceForm(q) {
  const from = $('trace-from');
  if (![...from.options].some((o) => o.value === q.from)) from.append(el('option', { value: q.from }, q.from));
  from.value = q.from;
  $('trace-to').value = q.to;
  $('trace-protocol').value = ['tcp', 'udp', 'icmp'].includes(q.protocol) ? q.protocol : 'tcp';
  $('trace-port').value = q.port === null ? '' : q.port;
  $('trace-port').disabled = q.protocol === 'icmp';
}

export async function runTrace(q, opts) {
  const o = opts || {};
  S.traceQuery = q;
  fillTraceForm(q);
  if (!o.keepHash) writeHash();
  if (!o.keepTab) showTab('trace');
  const token = ++S.traceToken;
  const params = new URLSearchParams({ from: q.from, to: q.to, protocol: q.protocol });
  if (q.port !== null && q.port !== '') params.set('port', q.port);
  $('trace-hint').textContent = 'Tracing…';
  $('trace-hint').hidden = false;
  let res;
  let body = null;
  try {
    res = await api(`api/trace?${params}`);
    body = await res.json().catch(() => null);
  } catch (err) {
    if (token === S.traceToken) showTraceError(`Could not reach the daemon: ${err.message}`);
    return;
  }
  if (token !== S.traceToken) return; // a newer trace was asked for
  if (!res.ok || !body || body.error) {
    showTraceError((body && body.error) || (res.status === 401 ? NO_TOKEN : `${res.status} ${res.statusText}`));
    return;
  }
  ui.trace = withSource(body);
  drawTrace(ui.trace);
  renderTrace(ui.trace);
}

/**
 * The answer with its path starting at the sending NIC and, for a packet
 * that left for the Internet, ending there: the trace engine lists the
 * ports crossed after the source, and names the Internet only as where
 * it was delivered; the page draws (and the hook's path lists) both.
 */
function withSource(t) {
  let path = Array.isArray(t.path) ? t.path : [];
  if (t.from && path[0] !== t.from) path = [t.from, ...path];
  if (t.delivered_to === 'internet' && path[path.length - 1] !== 'internet') path = [...path, 'internet'];
  return path === t.path ? t : Object.assign({}, t, { path });
}

export function clearTrace() {
  S.traceToken++;
  S.traceQuery = null;
  ui.trace = null;
  if (ui.cy) eraseTraceDrawing();
  $('trace-error').hidden = true;
  $('trace-summary').hidden = true;
  $('trace-hops').replaceChildren();
  $('trace-hint').textContent = 'Pick a NIC and a destination address; the path is drawn on the graph and listed here hop by hop.';
  $('trace-hint').hidden = false;
  writeHash();
}

function showTraceError(text) {
  ui.trace = null;
  eraseTraceDrawing();
  $('trace-summary').hidden = true;
  $('trace-hops').replaceChildren();
  $('trace-hint').hidden = true;
  const e = $('trace-error');
  e.textContent = text;
  e.hidden = false;
}

// ---- On the graph ------------------------------------------------------

function eraseTraceDrawing() {
  const cy = ui.cy;
  cy.batch(() => {
    cy.remove(cy.edges('.trace'));
    cy.nodes('.trace, .trace-at').removeClass('trace trace-at');
  });
}

/** Marks the path's nodes and adds edges trace_0.. between consecutive ones. */
function drawTrace(t) {
  const cy = ui.cy;
  const nodes = (t.path || []).map((name) => S.byName.get(name)).filter(Boolean);
  const at = t.at && S.byName.get(t.at);
  eraseTraceDrawing();
  cy.batch(() => {
    for (const n of nodes) n.addClass('trace');
    if (at && !isDelivered(t)) at.addClass('trace-at');
    const edges = [];
    const levels = new Map();
    for (let i = 1; i < nodes.length; i++) {
      const a = nodes[i - 1].id();
      const b = nodes[i].id();
      if (a === b) continue;
      const slot = S.topOf.get(a);
      const level = slot ? (levels.get(slot.row) || S.traceLevel(slot.row)) : 0;
      const cpd = arcDistance(a, b, level);
      if (cpd !== null) levels.set(slot.row, level + 1);
      edges.push({
        group: 'edges',
        data: { id: `trace_${edges.length}`, source: a, target: b, kind: 'trace', display: '', lm: 0, cpd },
        classes: cpd === null ? 'trace' : 'trace arc',
      });
    }
    cy.add(edges);
  });
  if (!S.userMoved) fitGraph(); // arcs may reach beyond the last fit
}

function isDelivered(t) {
  return t.verdict === 'delivered' || t.verdict === 'Allow';
}

// ---- Hop by hop ---------------------------------------------------------

function nsgText(c) {
  return `${c.level || ''} ${c.nsg || ''}: ${pick(c, 'rule_name', 'ruleName') || ''} (${c.priority}, ${c.access})`.trim();
}

function nsgLine(label, checks, byState) {
  if (byState) return factLine(label, 'reply of an admitted flow (stateful)');
  if (!checks || !checks.length) return factLine(label, 'no NSG');
  const items = checks.map((c) => (c.access === 'Deny' ? el('mark', { class: 'rule' }, nsgText(c)) : el('span', null, nsgText(c))));
  const parts = [];
  items.forEach((it, i) => parts.push(...(i ? ['; ', it] : [it])));
  return factLine(label, ...parts);
}

function routeText(r) {
  if (!r) return null;
  const prefix = pick(r, 'address_prefix', 'addressPrefix');
  const type = pick(r, 'next_hop_type', 'nextHopType');
  const ips = [].concat(pick(r, 'next_hop_ip_address', 'nextHopIpAddress') || []).join(', ');
  const table = pick(r, 'route_table', 'routeTable');
  return `${prefix} → ${type}${ips ? ' ' + ips : ''} (${table || 'System Route'}${r.source ? ', ' + r.source : ''})`;
}

function factLine(label, ...value) {
  return el('div', { class: 'fact' }, el('span', { class: 'k' }, label), el('span', { class: 'v' }, ...value));
}

function shapingText(s) {
  if (!s) return null;
  const bits = [];
  if (s.added_latency_us) bits.push(`+${fmtUs(s.added_latency_us)}${s.latency_estimated ? ' (estimated)' : ''}`);
  if (s.jitter_us) bits.push(`jitter ${fmtUs(s.jitter_us)}`);
  if (s.loss_ppm) bits.push(`loss ${s.loss_ppm} ppm`);
  if (s.bottleneck) bits.push(`cap ${s.bottleneck.mbps} Mbps (${s.bottleneck.what})`);
  if (s.mtu && s.mtu !== 1500) bits.push(`MTU ${s.mtu}`);
  if (s.mss_clamp) bits.push(`MSS ${s.mss_clamp}`);
  return bits.length ? bits.join(', ') : null;
}

function lbText(lb) {
  if (!lb) return null;
  return `${lb.name} / ${lb.frontend}${lb.rule ? `, rule ${lb.rule}` : ''}${lb.backend ? ` → ${lb.backend}` : ''}`;
}

/** One list item per NIC met: what let the packet in, and how it left. */
function hopItem(hop, index, previous) {
  const li = el('li', { 'data-trace-hop': index, 'data-nic': hop.nic },
    el('div', { class: 'hop-head' }, el('b', null, hop.nic), hop.subnet ? el('span', { class: 'sub' }, ` ${hop.subnet}`) : null,
      el('span', { class: 'pkt' }, `${hop.source} → ${hop.destination}`)));
  if (previous) li.append(nsgLine('in', previous.inbound, previous.inbound_by_state));
  li.append(nsgLine('out', hop.outbound, hop.outbound_by_state));
  const route = routeText(hop.route);
  li.append(factLine('route', route || 'none'));
  if (hop.peering) li.append(factLine('peering', hop.peering));
  if (hop.gateway) li.append(factLine('gateway', hop.gateway + (hop.handed_on && hop.handed_on.length ? ` → ${hop.handed_on.join(' → ')}` : '')));
  if (hop.load_balancer) li.append(factLine('load bal.', lbText(hop.load_balancer)));
  const shaping = shapingText(hop.shaping);
  li.append(factLine('latency', shaping || 'none added'));
  if (hop.to) li.append(factLine('to', hop.to + (translated(hop) ? ` (as ${hop.received_destination})` : '')));
  return li;
}

/** A load balancer changed the destination on the way. */
function translated(hop) {
  return !!hop.received_destination && hop.received_destination !== hop.destination;
}

function arrivalItem(last, index, t) {
  const delivered = isDelivered(t);
  const li = el('li', { 'data-trace-hop': index, 'data-nic': last.to, class: delivered ? 'arrived' : 'stopped' },
    el('div', { class: 'hop-head' }, el('b', null, last.to),
      el('span', { class: 'pkt' }, `${last.source} → ${translated(last) ? last.received_destination : last.destination}`)));
  li.append(nsgLine('in', last.inbound, last.inbound_by_state));
  li.append(factLine('result', delivered ? 'delivered' : t.at === last.to ? 'dropped here' : 'not delivered'));
  return li;
}

function renderTrace(t) {
  $('trace-error').hidden = true;
  $('trace-hint').hidden = true;
  $('trace-summary').hidden = false;
  const delivered = isDelivered(t);
  const verdict = $('trace-verdict');
  verdict.className = delivered ? 'verdict ok' : 'verdict bad';
  if (delivered) {
    verdict.replaceChildren(`✔ delivered${t.delivered_to ? ` to ${t.delivered_to}` : ''}`);
  } else {
    verdict.replaceChildren(`✘ dropped${t.at ? ` at ${t.at}` : ''}: ${t.reason || 'unknown reason'}`,
      ...(t.rule ? [', rule ', el('mark', { class: 'rule' }, t.rule)] : []));
  }
  const flow = `${t.protocol}${t.port !== null && t.port !== undefined ? ` port ${t.port}` : ''}`;
  const facts = [`${t.from} (${t.source}) → ${t.destination}, ${flow}`, `path ${(t.path || []).join(' → ') || '–'}`,
    `added latency ${fmtUs(t.added_latency_us || 0)}`];
  if (t.bottleneck) facts.push(`bottleneck ${t.bottleneck.mbps} Mbps (${t.bottleneck.what})`);
  if (t.reply) facts.push(`reply: ${isDelivered(t.reply) ? 'comes back' : `dropped${t.reply.at ? ` at ${t.reply.at}` : ''}: ${t.reply.reason || ''}`}`);
  $('trace-facts').replaceChildren(...facts.map((f) => el('span', null, f)));
  const hops = t.hops || [];
  const items = hops.map((h, i) => hopItem(h, i, hops[i - 1]));
  const last = hops[hops.length - 1];
  if (last && last.to) items.push(arrivalItem(last, hops.length, t));
  $('trace-hops').replaceChildren(...items);
}
