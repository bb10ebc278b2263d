// The panels beside the graph: the NICs table (only rows in view are
// written), the drops list, the selected NIC (its flows, refreshed every
// 2 s while shown, and its capture link), and the side tabs.

import { api, withToken, NO_TOKEN } from './auth.js';
import { ui, S, $, NAMED_KINDS } from './state.js';
import { el, fmtBits, fmtCount, fmtBytes, fmtMs, zeroRate, offloadShare, clock } from './util.js';
import { writeHash } from './url.js';

const DROPS_CAP = 200;
const FLOWS_EVERY_MS = 2000;

// ---- NICs table (only rows in view are written) ----------------------------

export function buildNicsTable() {
  const body = $('nics').tBodies[0];
  if (S.rowObserver) S.rowObserver.disconnect();
  S.rows.clear();
  S.visibleRows.clear();
  const rows = S.names.map((name) => {
    const kind = S.byName.get(name).data('kind');
    const cells = ['tx_bps', 'rx_bps', 'tx_pps', 'rx_pps', 'offloaded'].map((f) => el('td', { class: 'num zero', 'data-field': f }, '0'));
    const tr = el('tr', { 'data-nic': name, class: `kind-${kind}` }, el('td', { 'data-field': 'name' }, el('span', { class: 'dot' }), name), ...cells);
    tr.addEventListener('click', () => selectNic(name, { user: true }));
    S.rows.set(name, tr);
    return tr;
  });
  body.replaceChildren(...rows);
  $('nics-count').textContent = String(rows.length);
  S.rowObserver = new IntersectionObserver(onRowsSeen, { root: $('nics-scroll'), rootMargin: '40px 0px' });
  for (const tr of rows) S.rowObserver.observe(tr);
  if (ui.selected && S.rows.has(ui.selected)) S.rows.get(ui.selected).classList.add('picked');
}

function onRowsSeen(entries) {
  for (const e of entries) {
    const name = e.target.dataset.nic;
    if (e.isIntersecting) {
      S.visibleRows.add(name);
      if (!document.hidden) writeRow(name);
    } else {
      S.visibleRows.delete(name);
    }
  }
}

export function updateRows(names) {
  for (const name of names) if (S.visibleRows.has(name)) writeRow(name);
}

function writeRow(name) {
  const tr = S.rows.get(name);
  if (!tr) return;
  const r = ui.rates[name] || zeroRate();
  const values = [fmtBits(r.tx_bps), fmtBits(r.rx_bps), fmtCount(r.tx_pps), fmtCount(r.rx_pps), offloadShare(r)];
  const key = values.join('|');
  if (tr._shown === key) return;
  tr._shown = key;
  for (let i = 0; i < values.length; i++) {
    const td = tr.cells[i + 1];
    td.textContent = values[i];
    td.classList.toggle('zero', values[i] === '0' || values[i] === '–');
  }
}

export function refreshVisibleRows() {
  for (const name of S.visibleRows) writeRow(name);
}

// ---- Drops -------------------------------------------------------------

export function onDrop(drop) {
  ui.drops.unshift(drop);
  if (ui.drops.length > DROPS_CAP) ui.drops.length = DROPS_CAP;
  S.dropTotal += drop.count || 1;
  S.pendingDrops.push(drop);
  if (!S.dropTimer) S.dropTimer = setTimeout(flushDrops, 100);
}
function dropItem(d) {
  const rule = d.rule === null || d.rule === undefined ? '' : String(d.rule);
  const li = el('li', { 'data-nic': d.nic, 'data-reason': d.reason, 'data-rule': rule, title: d.detail || '' },
    el('time', { datetime: d.time }, clock(d.time)),
    el('b', { class: 'nic' }, d.nic),
    el('span', { class: 'dir' }, d.direction),
    el('span', { class: 'reason' }, d.reason),
    rule ? el('mark', { class: 'rule' }, rule) : el('span', { class: 'rule none' }, 'no rule'),
    d.count > 1 ? el('span', { class: 'times' }, `×${d.count}`) : null,
    el('div', { class: 'tuple' }, `${d.protocol || ''} ${d.source || ''} → ${d.destination || ''}`));
  li.addEventListener('click', () => d.nic && S.byName.has(d.nic) && selectNic(d.nic, { user: true }));
  return li;
}

export function flushDrops() {
  S.dropTimer = 0;
  if (document.hidden) return; // visibilitychange flushes
  const list = $('drops');
  const pending = S.pendingDrops;
  S.pendingDrops = [];
  if (pending.length >= DROPS_CAP) {
    list.replaceChildren(...ui.drops.map(dropItem));
  } else if (pending.length) {
    const frag = document.createDocumentFragment();
    for (let i = pending.length - 1; i >= 0; i--) frag.append(dropItem(pending[i]));
    list.prepend(frag);
    while (list.children.length > DROPS_CAP) list.lastElementChild.remove();
  }
  $('drops-count').textContent = S.dropTotal ? `${S.dropTotal} packet${S.dropTotal === 1 ? '' : 's'}` : '';
  $('drops-empty').hidden = ui.drops.length > 0;
}

// ---- Selection, flows and capture ------------------------------------------

export function selectNic(name, opts) {
  const o = opts || {};
  const node = S.byName.get(name);
  if (!node || !NAMED_KINDS.has(node.data('kind'))) return;
  if (ui.selected && ui.selected !== name) clearSelection();
  ui.selected = name;
  ui.cy.batch(() => {
    ui.cy.nodes('.picked').removeClass('picked');
    ui.cy.edges('.show-label').removeClass('show-label');
    node.addClass('picked');
    node.connectedEdges('[kind = "load_balancing"]').addClass('show-label');
  });
  const row = S.rows.get(name);
  if (row) {
    row.classList.add('picked');
    if (!o.user) row.scrollIntoView({ block: 'nearest' });
  }
  renderNicPanel(node);
  if (!o.quiet) showTab('nic');
  if (!o.fromHash) writeHash();
  syncFlowsTimer(true);
}

export function clearSelection() {
  if (ui.cy) {
    ui.cy.nodes('.picked').removeClass('picked');
    ui.cy.edges('.show-label').removeClass('show-label');
  }
  const row = ui.selected && S.rows.get(ui.selected);
  if (row) row.classList.remove('picked');
  ui.selected = null;
  $('nic-detail').hidden = true;
  $('nic-none').hidden = false;
  $('tab-nic-name').textContent = '';
}

function renderNicPanel(node) {
  const name = node.data('name');
  $('nic-none').hidden = true;
  $('nic-detail').hidden = false;
  $('tab-nic-name').textContent = name;
  $('nic-title').textContent = `${name} (${String(node.data('kind')).replace('_', ' ')})`;
  const lines = String(node.data('label') || '').split('\n').slice(1);
  if (node.data('host')) lines.push(`on host ${node.data('host')}`);
  $('nic-label').textContent = lines.join(' · ');
  $('flows').tBodies[0].replaceChildren();
  $('flows-status').textContent = '';
  updateCaptureLink();
}

export function updateCaptureLink() {
  if (!ui.selected) return;
  const filter = $('capture-filter').value.trim();
  let href = `capture/${encodeURIComponent(ui.selected)}.pcapng?seconds=10`;
  if (filter) href += `&filter=${encodeURIComponent(filter)}`;
  const a = $('capture-link');
  a.href = withToken(href);
  a.setAttribute('download', `${ui.selected}.pcapng`);
  a.textContent = `Download 10 s capture of ${ui.selected}`;
}

function flowsShown() {
  return !!ui.selected && S.tab === 'nic' && !document.hidden;
}

/** Runs the 2 s refresh only while the flows are on screen. */
export function syncFlowsTimer(now) {
  if (!flowsShown()) {
    clearInterval(S.flowsTimer);
    S.flowsTimer = 0;
    return;
  }
  if (now || !S.flowsTimer) loadFlows();
  if (!S.flowsTimer) S.flowsTimer = setInterval(loadFlows, FLOWS_EVERY_MS);
}

async function loadFlows() {
  if (!flowsShown()) return syncFlowsTimer();
  const nic = ui.selected;
  const token = ++S.flowsToken;
  try {
    const res = await api(`api/flows?nic=${encodeURIComponent(nic)}`);
    if (res.status === 401) throw new Error(NO_TOKEN);
    if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
    const flows = await res.json();
    const total = Number(res.headers.get('x-total-count'));
    if (token === S.flowsToken && nic === ui.selected) renderFlows(Array.isArray(flows) ? flows : [], total);
  } catch (err) {
    if (token === S.flowsToken) $('flows-status').textContent = `could not load: ${err.message}`;
  }
}

function flowRow(f) {
  const via = [f.rule && `rule ${f.rule}`, f.next_hop_type && `via ${f.next_hop_type}${f.next_hop_ip_address ? ' ' + f.next_hop_ip_address : ''}`]
    .filter(Boolean).join(' · ');
  return el('tr', null,
    el('td', { class: 'flow' },
      el('div', null, el('b', null, f.protocol || ''), ` ${f.source || ''} → ${f.destination || ''}`),
      el('div', { class: 'sub' }, [f.direction, via].filter(Boolean).join(' · '))),
    el('td', { class: 'num' }, fmtCount(f.packets_forward), el('div', { class: 'sub' }, fmtCount(f.packets_reverse))),
    el('td', { class: 'num' }, fmtBytes(f.bytes_forward), el('div', { class: 'sub' }, fmtBytes(f.bytes_reverse))),
    el('td', { class: 'num' }, fmtMs(f.age_ms), el('div', { class: 'sub' }, `idle ${fmtMs(f.idle_ms)}`)),
    el('td', null, f.offloaded ? 'yes' : 'no'));
}

/** The flows answered: the most recently active when there are more than the daemon sends (`total`). */
function renderFlows(flows, total) {
  $('flows').tBodies[0].replaceChildren(...flows.map(flowRow));
  $('flows-empty').hidden = flows.length > 0;
  const count = total > flows.length ? `${flows.length} most recent of ${total}` : `${flows.length}`;
  $('flows-status').textContent = `${count} · ${clock(new Date().toISOString())}`;
}

// ---- Tabs ----------------------------------------------------------------

export function showTab(tab) {
  S.tab = tab;
  for (const b of document.querySelectorAll('[data-tab]')) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
  $('tab-trace').hidden = tab !== 'trace';
  $('tab-nic').hidden = tab !== 'nic';
  syncFlowsTimer();
}
