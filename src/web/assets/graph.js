// The cytoscape graph: creates it, draws a generation's elements and its
// legend, and shows the live events on it: rates on the NICs' (and the
// Internet's, and NAT gateways') labels and on busy links (one batch per
// frame; labels out of view when they come into view), and the state feed
// (peerings, BGP sessions with the gateway's badge, load balancer backends
// whose probe is down).

import { ui, S, $, NAMED_KINDS, MIN_FONT_PX } from './state.js';
import { el, zeroRate, rateLine } from './util.js';
import { L, buildTree, layout, toElements } from './layout.js';
import { graphStyle } from './style.js';
import { selectNic, updateRows } from './panels.js';

const HISTORY = 300; // rates frames kept in vnetdUi.history (five minutes)

// ---- Drawing -----------------------------------------------------------

function createCy() {
  const cy = cytoscape({
    container: $('graph'),
    elements: [],
    style: graphStyle(),
    layout: { name: 'preset' },
    minZoom: 0.03,
    maxZoom: 4,
    boxSelectionEnabled: false,
    autounselectify: true,
    autoungrabify: true,
  });
  cy.on('dragpan pinchzoom scrollzoom', () => (S.userMoved = true));
  cy.on('resize', () => S.userMoved || fitGraph());
  cy.on('viewport', scheduleStaleRefresh);
  cy.on('tap', 'node', (evt) => {
    const name = evt.target.data('name');
    if (name) selectNic(name, { user: true });
  });
  return cy;
}

export function drawGraph(graph) {
  const tree = buildTree(graph.elements || []);
  const positions = layout(tree);
  const elements = toElements(tree, positions);
  const cy = ui.cy || (ui.cy = createCy());
  const big = tree.nodes.size > 400;
  cy.renderer().hideEdgesOnViewport = big; // cheaper panning of big labs
  cy.renderer().textureOnViewport = big;
  const first = cy.elements().empty();
  cy.batch(() => {
    cy.elements().remove();
    cy.add(elements);
  });
  indexNames(cy);
  if (first) fitGraph();
  $('graph-message').hidden = true;
  renderLegend(tree);
}

export function fitGraph() {
  if (ui.cy) ui.cy.fit(undefined, 24);
}

/** Names to nodes (for traces), and the NICs' names (table, rates) in element order. */
function indexNames(cy) {
  S.byName.clear();
  S.names = [];
  S.natGateways.clear();
  cy.nodes('[kind = "nat_gateway"]').forEach((n) => S.natGateways.set(n.data('name'), n));
  cy.nodes().forEach((n) => {
    const name = n.data('name');
    if (!name || S.byName.has(name)) return;
    S.byName.set(name, n);
    if (NAMED_KINDS.has(n.data('kind'))) S.names.push(name);
  });
}

const LEGEND = [
  ['nic', 'NIC'], ['appliance', 'appliance (NVA)'], ['gateway', 'gateway'], ['frontend', 'LB frontend'],
  ['firewall', 'Azure Firewall'], ['route_server', 'Route Server'], ['circuit', 'ExpressRoute circuit'],
  ['site_node', 'on-premises node'], ['internet', 'Internet'], ['nat_gateway', 'NAT gateway'],
  ['unreachable', 'unreachable next hop'],
];

function renderLegend(tree) {
  const kinds = new Set([...tree.nodes.values()].map((n) => n.data.kind));
  const edgeKinds = new Set(tree.edges.map((e) => e.kind));
  const items = LEGEND.filter(([k]) => kinds.has(k)).map(([k, text]) => el('li', { class: `sw sw-${k}` }, text));
  if (edgeKinds.has('peering')) items.push(el('li', { class: 'ln ln-peering' }, 'peering (dashed: initiated, dotted: connected group)'));
  if (edgeKinds.has('appliance_route')) items.push(el('li', { class: 'ln ln-route' }, 'route to appliance'));
  if (edgeKinds.has('connection')) items.push(el('li', { class: 'ln ln-connection' }, 'connection (red: down)'));
  if (edgeKinds.has('load_balancing')) items.push(el('li', { class: 'ln ln-lb' }, 'load balancing'));
  if (edgeKinds.has('egress')) items.push(el('li', { class: 'ln ln-egress' }, 'way out to the Internet'));
  if (edgeKinds.has('ingress')) items.push(el('li', { class: 'ln ln-ingress' }, 'in from the Internet'));
  items.push(el('li', { class: 'ln ln-busy' }, 'traffic'), el('li', { class: 'ln ln-trace' }, 'trace'));
  $('legend').replaceChildren(...items);
}

// ---- Rates -------------------------------------------------------------

export function zeroFillRates() {
  const rates = {};
  for (const name of S.names) rates[name] = zeroRate();
  for (const name of S.frameNics) rates[name] = Object.assign(zeroRate(), S.frame.nics[name]);
  ui.rates = rates;
}

/** Keeps the frame in the hook; draws it now, or when the page is shown again. */
export function onRates(frame) {
  const nics = frame.nics || {};
  frame.links = frame.links || {};
  frame.nat_gateways = frame.nat_gateways || {};
  ui.history.push({ seq: frame.seq, interval_ms: frame.interval_ms, nics, links: frame.links, nat_gateways: frame.nat_gateways });
  if (ui.history.length > HISTORY) ui.history.shift();
  for (const name of S.frameNics) if (!(name in nics)) ui.rates[name] = zeroRate();
  for (const name of Object.keys(nics)) ui.rates[name] = Object.assign(zeroRate(), nics[name]);
  frame.nics = nics;
  S.frame = frame;
  S.frameNics = new Set(Object.keys(nics));
  ui.seq = frame.seq;
  S.framePending = true;
  if (!document.hidden && ui.ready) applyFrame(frame);
}

function nodeDisplay(node, rate) {
  const line = rateLine(rate);
  const bgp = node.data('bgp');
  const label = (node.data('label') || node.data('name')) + (bgp ? `\n${bgp}` : '');
  return line ? `${label}\n${line}` : label;
}

/**
 * Width and colour of a busy link, in steps of one decade of bit/s (10 kb/s
 * to 1 Gb/s and above), so a steady rate does not restyle (and redraw)
 * anything from one frame to the next.
 */
function linkStyle(bps) {
  const decade = Math.min(6, Math.max(0, Math.floor(Math.log10(Math.max(bps, 1)) - 4 + 1)));
  const colour = bps >= 1e8 ? '#137a3f' : bps >= 1e6 ? '#2e9d5b' : '#6dbb73';
  return { rw: 2.5 + decade, rc: colour };
}

function setNodeRate(node, rate) {
  const text = nodeDisplay(node, rate);
  if (node.data('display') !== text) node.data('display', text);
  S.staleNodes.delete(node.data('name'));
}

/**
 * Whether a node's label can be read now: drawn at this zoom (see
 * min-zoomed-font-size) and inside the viewport. Labels nobody can see are
 * not restyled, which keeps big labs cheap when zoomed out.
 */
function labelReadable(node, view) {
  if (view.zoom * L.leafFont < MIN_FONT_PX) return false;
  const p = node.position();
  const w = node.data('w') / 2;
  const h = node.data('h') / 2;
  const e = view.extent;
  return p.x + w >= e.x1 && p.x - w <= e.x2 && p.y + h >= e.y1 && p.y - h <= e.y2;
}

/** After a pan or zoom: brings the labels now in view up to date. */
export function refreshStaleNodes() {
  S.staleTimer = 0;
  if (document.hidden || !S.staleNodes.size) return;
  const cy = ui.cy;
  const view = { extent: cy.extent(), zoom: cy.zoom() };
  if (view.zoom * L.leafFont < MIN_FONT_PX) return;
  cy.batch(() => {
    for (const name of [...S.staleNodes]) {
      const node = S.byName.get(name);
      if (!node) S.staleNodes.delete(name);
      else if (labelReadable(node, view)) setNodeRate(node, ui.rates[name]);
    }
  });
}

function scheduleStaleRefresh() {
  if (!S.staleTimer) S.staleTimer = setTimeout(refreshStaleNodes, 150);
}

/** Applies one frame in one batch: only NICs, NAT gateways and links in it or just gone idle. */
export function applyFrame(frame) {
  const cy = ui.cy;
  const nics = new Set(Object.keys(frame.nics));
  const links = new Set(Object.keys(frame.links));
  const nats = new Set(Object.keys(frame.nat_gateways || {}));
  const touchedNics = [...nics, ...[...S.shownNics].filter((n) => !nics.has(n))];
  const touchedLinks = [...links, ...[...S.shownLinks].filter((l) => !links.has(l))];
  const touchedNats = [...nats, ...[...S.shownNatGateways].filter((n) => !nats.has(n))];
  const view = { extent: cy.extent(), zoom: cy.zoom() };
  cy.batch(() => {
    for (const name of touchedNics) {
      const node = S.byName.get(name);
      if (!node) continue;
      if (labelReadable(node, view)) setNodeRate(node, frame.nics[name]);
      else S.staleNodes.add(name); // written when it comes into view
    }
    for (const id of touchedLinks) updateLink(cy.getElementById(id), frame.links[id]);
    // A few nodes: written whether in view or not.
    for (const name of touchedNats) {
      const node = S.natGateways.get(name);
      const text = node && nodeDisplay(node, (frame.nat_gateways || {})[name]);
      if (node && node.data('display') !== text) node.data('display', text);
    }
  });
  S.shownNics = nics;
  S.shownLinks = links;
  S.shownNatGateways = nats;
  S.framePending = false;
  updateRows(touchedNics);
}

function updateLink(edge, link) {
  if (!edge || edge.empty() || !edge.isEdge()) return;
  if (link && link.bps) {
    const st = linkStyle(link.bps);
    if (edge.data('rw') !== st.rw || edge.data('rc') !== st.rc) edge.data(st);
    if (!edge.hasClass('busy')) edge.addClass('busy');
  } else if (edge.hasClass('busy')) {
    edge.removeClass('busy');
  }
}

// ---- State (peerings, BGP sessions, load balancer backends) ----------------

export function onState(state) {
  ui.state = state;
  if (ui.ready && !document.hidden) applyState(state);
}

/** A session is up when Azure would say Connected (gobgp: Established). */
function sessionUp(s) {
  return s.state === 'Connected' || s.state === 'Established';
}

export function applyState(state) {
  const cy = ui.cy;
  cy.batch(() => {
    for (const [id, st] of Object.entries(state.peerings || {})) {
      const e = cy.getElementById(id);
      if (e.nonempty()) e.data('state', String(st).toLowerCase());
    }
    for (const s of state.sessions || []) {
      const e = s.edge ? cy.getElementById(s.edge) : null;
      if (e && e.nonempty()) e.data('state', sessionUp(s) ? 'up' : 'down');
    }
    // Each gateway: its sessions up out of all, and the prefixes they
    // brought, on its node; its BGP connections red while one is down.
    const gateways = new Map();
    for (const s of state.sessions || []) {
      const g = gateways.get(s.gateway) || { up: 0, total: 0, prefixes: 0 };
      g.total += 1;
      if (sessionUp(s)) g.up += 1;
      g.prefixes += s.prefixes || 0;
      gateways.set(s.gateway, g);
    }
    cy.nodes('[bgp]').forEach((n) => {
      if (!gateways.has(n.data('name'))) n.removeData('bgp');
    });
    for (const [name, g] of gateways) {
      const n = S.byName.get(name);
      if (!n) continue;
      n.data('bgp', `BGP ${g.up}/${g.total} up, ${g.prefixes} prefix${g.prefixes === 1 ? '' : 'es'}`);
      n.toggleClass('bgp-down', g.up < g.total);
      n.connectedEdges('[kind = "connection"]').forEach((e) => {
        if (/\bBGP\b/.test(String(e.data('label')))) e.data('state', g.up === g.total ? 'up' : 'down');
      });
      setNodeRate(n, ui.rates[name]);
    }
    cy.nodes('.probe-down').removeClass('probe-down');
    for (const b of state.backends || []) {
      const n = S.byName.get(b.nic);
      if (n && !b.up) n.addClass('probe-down');
    }
  });
}
