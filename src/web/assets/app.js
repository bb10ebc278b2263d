// vnetd live lab view: draws the lab from /api/graph with cytoscape (a
// deterministic O(n) layout computed here), follows /events (rates, drops,
// state, graph generations), and drives the NICs table, drops list, flows
// of the selected NIC, captures and traces. Plain browser ES modules, no
// build step. Test hooks: window.vnetdUi (docs/src/watching.md lists them;
// tests/labs/e2e_live_page.rs uses them).
//
// This entry module starts the page, loads each graph generation, wires the
// event stream and the controls, and follows the URL. The others:
// state.js (vnetdUi, the private state), util.js (helpers), layout.js (the
// layout), style.js (cytoscape style), graph.js (drawing, rates and state
// on the graph), panels.js (NICs table, drops, selected NIC, tabs),
// trace.js (traces), url.js (#nic= and #trace=) and auth.js (the lab's
// token, sent with every request for the lab's data).

import { api, withToken, NO_TOKEN } from './auth.js';
import { ui, S, $ } from './state.js';
import {
  drawGraph, fitGraph, zeroFillRates, onRates, applyFrame, refreshStaleNodes, onState, applyState,
} from './graph.js';
import {
  buildNicsTable, refreshVisibleRows, onDrop, flushDrops, selectNic, clearSelection, updateCaptureLink,
  syncFlowsTimer, showTab,
} from './panels.js';
import { fillTraceFrom, readTraceForm, runTrace, clearTrace } from './trace.js';
import { parseHash, traceKey } from './url.js';

// ---- Graph generations -------------------------------------------------

function requestGraph() {
  if (S.loading) {
    S.reload = true;
    return;
  }
  S.loading = true;
  loadGraph()
    .catch((err) => showGraphMessage(`Could not load the lab: ${err.message}`))
    .finally(() => {
      S.loading = false;
      if (S.reload) {
        S.reload = false;
        if (S.latestGeneration !== ui.generation) requestGraph();
      }
    });
}

async function loadGraph() {
  const res = await api('api/graph');
  if (res.status === 401) throw new Error(NO_TOKEN);
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  const graph = await res.json();
  const first = !ui.ready;
  drawGraph(graph);
  ui.generation = graph.generation;
  ui.host = graph.host === undefined ? null : graph.host;
  renderHeader();
  buildNicsTable();
  fillTraceFrom();
  S.shownNics = new Set();
  S.shownLinks = new Set();
  S.shownNatGateways = new Set();
  S.staleNodes.clear();
  zeroFillRates();
  if (S.frame) applyFrame(S.frame);
  if (ui.state) applyState(ui.state);
  ui.ready = true;
  if (first) applyHash();
  else afterRedraw();
}

/** Keeps the selection and re-runs the current trace on the new tables. */
function afterRedraw() {
  if (ui.selected && S.byName.has(ui.selected)) selectNic(ui.selected, { quiet: true });
  else if (ui.selected) clearSelection();
  if (S.traceQuery) runTrace(S.traceQuery, { keepHash: true });
}

function showGraphMessage(text) {
  const m = $('graph-message');
  m.textContent = text;
  m.hidden = false;
}

function renderHeader() {
  $('generation').textContent = ui.generation === null ? '–' : String(ui.generation);
  $('host-box').hidden = ui.host === null || ui.host === undefined;
  $('host').textContent = ui.host || '';
}

// ---- Server-sent events ------------------------------------------------

function setStatus(state, text) {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = text;
}

function parse(evt) {
  try {
    return JSON.parse(evt.data);
  } catch (e) {
    return null;
  }
}

function connect() {
  clearTimeout(S.retryTimer);
  const es = (S.events = new EventSource(withToken('events')));
  es.onopen = () => setStatus('live', 'live');
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      setStatus('down', 'disconnected, retrying…');
      S.retryTimer = setTimeout(connect, 3000);
    } else {
      setStatus('reconnecting', 'reconnecting…');
    }
  };
  const on = (name, fn) => es.addEventListener(name, (evt) => {
    const data = parse(evt);
    if (data) fn(data);
  });
  on('graph', onGraphEvent);
  on('rates', onRates);
  on('state', onState);
  on('drop', onDrop);
}

function onGraphEvent(data) {
  S.latestGeneration = data.generation;
  if (data.generation === ui.generation) return;
  if (document.hidden && ui.ready) S.graphStale = true; // redrawn when shown again
  else requestGraph();
}

// ---- URL state (url.js reads and writes the hash) ----------------------

function applyHash() {
  const h = parseHash();
  if (h.nic && h.nic !== ui.selected) selectNic(h.nic, { fromHash: true, quiet: !!h.trace });
  if (h.trace && traceKey(h.trace) !== traceKey(S.traceQuery)) runTrace(h.trace, { keepHash: true });
}

// ---- Page visibility ---------------------------------------------------

function onVisibility() {
  if (!document.hidden && S.graphStale) {
    S.graphStale = false;
    requestGraph();
  }
  if (!document.hidden && ui.ready) {
    if (S.framePending && S.frame) applyFrame(S.frame);
    refreshStaleNodes();
    if (ui.state) applyState(ui.state);
    flushDrops();
    refreshVisibleRows();
  }
  syncFlowsTimer();
}

// ---- Start ---------------------------------------------------------------

function wireControls() {
  $('trace-form').addEventListener('submit', (evt) => {
    evt.preventDefault();
    const q = readTraceForm();
    if (q.from && q.to) runTrace(q);
  });
  $('trace-clear').addEventListener('click', clearTrace);
  $('trace-protocol').addEventListener('change', () => {
    $('trace-port').disabled = $('trace-protocol').value === 'icmp';
  });
  $('capture-filter').addEventListener('input', updateCaptureLink);
  for (const b of document.querySelectorAll('[data-tab]')) b.addEventListener('click', () => showTab(b.dataset.tab));
  $('fit').addEventListener('click', () => {
    S.userMoved = false;
    fitGraph();
  });
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('hashchange', () => ui.ready && applyHash());
}

function start() {
  if (typeof window.cytoscape !== 'function') {
    showGraphMessage('cytoscape.js did not load (vendor/cytoscape.min.js).');
    return;
  }
  wireControls();
  $('drops-empty').hidden = false;
  requestGraph();
  connect();
}

start();
