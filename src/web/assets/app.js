// vnetd live lab view: draws the lab from /api/graph with cytoscape (a
// deterministic O(n) layout computed here), follows /events (rates, drops,
// state, graph generations), and drives the NICs table, drops list, flows
// of the selected NIC, captures and traces. Plain browser JavaScript, no
// build step. Test hooks: window.vnetdUi (docs/src/watching.md lists them;
// tests/labs/e2e_live_page.rs uses them).
'use strict';

(function () {
  // ---- Public hook and private state -------------------------------------

  const ui = (window.vnetdUi = {
    ready: false,
    generation: null,
    host: null,
    seq: 0,
    rates: {},
    drops: [],
    trace: null,
    state: null,
    selected: null,
    cy: null,
  });

  const S = {
    byName: new Map(), // lab name -> cytoscape node
    names: [], // named nodes, in element order (table rows, rates zero-fill)
    center: new Map(), // node id -> {x, y} of its body, from the layout
    box: new Map(), // box (compound) id -> {cx, cy, w, y2} of its body
    topOf: new Map(), // node id -> layout slot of its top-level ancestor
    frame: null, // latest rates frame received
    frameNics: new Set(), // NICs non-zero in the latest frame received
    shownNics: new Set(), // NICs non-zero in the frame last drawn
    shownLinks: new Set(), // links busy in the frame last drawn
    framePending: false, // a frame arrived that is not drawn yet
    staleNodes: new Set(), // NICs whose label lags the rates (were out of view)
    staleTimer: 0,
    rows: new Map(), // NIC name -> table row
    visibleRows: new Set(), // names of the table rows in view
    rowObserver: null,
    pendingDrops: [],
    dropTimer: 0,
    dropTotal: 0,
    traceQuery: null, // {from, to, protocol, port} of the current trace
    traceToken: 0,
    tab: 'trace',
    flowsTimer: 0,
    flowsToken: 0,
    loading: false,
    reload: false,
    latestGeneration: null,
    graphStale: false, // a new generation came while the page was hidden
    events: null,
    retryTimer: 0,
  };

  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  const NAMED_KINDS = new Set(['nic', 'appliance', 'gateway', 'site_node']); // have ports: rates, flows, captures
  const TRACE_FROM_KINDS = new Set(['nic', 'appliance', 'site_node']);
  const BOX_KINDS = new Set(['vnet', 'subnet', 'site']);
  const DROPS_CAP = 200;
  const FLOWS_EVERY_MS = 2000;
  const BLANK_IMAGE = 'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';
  const MIN_FONT_PX = 7; // labels smaller than this on screen are not drawn

  // Layout sizes, in graph pixels.
  const L = {
    leafFont: 11, leafLine: 14, leafPadX: 9, leafPadY: 7, leafMinW: 96, leafMaxW: 210,
    boxFont: { vnet: 13, site: 13, subnet: 11 }, boxLine: { vnet: 17, site: 17, subnet: 14 },
    pad: 12, gridGap: 14, stackGap: 14, emptyW: 110, emptyH: 26,
    topGap: 110, rowGap: 70, otherGap: 90, minRowWidth: 1800, aspect: 1.8,
    arcClear: 40, arcStep: 40, edgeLine: 12,
  };

  const $ = (id) => document.getElementById(id);

  // ---- Small helpers -----------------------------------------------------

  /** Builds an element: el('td', {class: 'num', 'data-field': 'tx'}, 'text', child). */
  function el(tag, attrs, ...children) {
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
  function pick(obj, ...keys) {
    for (const k of keys) if (obj && obj[k] !== undefined) return obj[k];
    return undefined;
  }

  function short(x) {
    if (x >= 10) return String(Math.round(x));
    return String(Math.round(x * 10) / 10);
  }

  /** 950000000 -> "950 Mb/s"; 0 -> "0". */
  function fmtBits(v) {
    if (!v) return '0';
    const steps = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
    for (const [d, p] of steps) if (v >= d) return `${short(v / d)} ${p}b/s`;
    return `${short(v)} b/s`;
  }

  /** 81234 -> "81k"; for packet and byte counts. */
  function fmtCount(v) {
    if (!v) return '0';
    const steps = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
    for (const [d, p] of steps) if (v >= d) return short(v / d) + p;
    return String(Math.round(v));
  }

  function fmtBytes(v) {
    if (!v) return '0 B';
    const steps = [[1e12, 'TB'], [1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']];
    for (const [d, p] of steps) if (v >= d) return `${short(v / d)} ${p}`;
    return `${v} B`;
  }

  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 120000) return `${short(ms / 1000)} s`;
    return `${Math.round(ms / 60000)} min`;
  }

  function fmtUs(us) {
    return us >= 1000 ? `${short(us / 1000)} ms` : `${us} µs`;
  }

  function zeroRate() {
    return { tx_pps: 0, rx_pps: 0, tx_bps: 0, rx_bps: 0, offloaded_tx_pps: 0, offloaded_rx_pps: 0 };
  }

  function offloadShare(r) {
    const all = (r.tx_pps || 0) + (r.rx_pps || 0);
    if (!all) return '–';
    const off = (r.offloaded_tx_pps || 0) + (r.offloaded_rx_pps || 0);
    return `${Math.round((100 * off) / all)}%`;
  }

  /** "↑950 Mb/s ↓2 Mb/s", each side only when non-zero; "" when idle. */
  function rateLine(r) {
    if (!r) return '';
    const parts = [];
    if (r.tx_bps) parts.push(`↑${fmtBits(r.tx_bps)}`);
    if (r.rx_bps) parts.push(`↓${fmtBits(r.rx_bps)}`);
    return parts.join(' ');
  }

  const measureCtx = document.createElement('canvas').getContext('2d');
  function textWidth(text, size, weight) {
    measureCtx.font = `${weight || 'normal'} ${size}px ${FONT}`;
    return measureCtx.measureText(text).width;
  }

  // ---- Layout: deterministic, one pass to measure, one to place ------------

  function buildTree(elements) {
    const nodes = new Map();
    const edges = [];
    for (const e of elements) {
      if (e.group === 'edges') edges.push(e.data);
      else if (e.data && e.data.id) nodes.set(e.data.id, { data: e.data, children: [] });
    }
    const roots = [];
    for (const n of nodes.values()) {
      const parent = n.data.parent && nodes.get(n.data.parent);
      if (parent && parent !== n) parent.children.push(n);
      else roots.push(n);
    }
    return { nodes, roots, edges };
  }

  function isBox(n) {
    return BOX_KINDS.has(n.data.kind) || n.children.length > 0;
  }

  function labelLines(n) {
    return String(n.data.label || n.data.name || n.data.id).split('\n');
  }

  function measureLeaf(n) {
    const lines = labelLines(n);
    const widths = lines.map((t) => textWidth(t, L.leafFont));
    const widest = Math.max(textWidth('↑950 Mb/s ↓950 Mb/s', L.leafFont), ...widths);
    const w = Math.min(L.leafMaxW, Math.max(L.leafMinW, Math.ceil(widest) + 2 * L.leafPadX));
    const inner = w - 2 * L.leafPadX;
    const wrapped = widths.reduce((sum, tw) => sum + Math.max(1, Math.ceil(tw / inner)), 0);
    n.w = w;
    n.h = (wrapped + 1) * L.leafLine + 2 * L.leafPadY; // +1: the rate line
    n.outerW = n.w;
    n.outerH = n.h;
  }

  function boxFont(n) {
    return L.boxFont[n.data.kind] || L.boxFont.subnet;
  }

  function gridColumns(count) {
    return count <= 4 ? count : Math.ceil(Math.sqrt(count));
  }

  function measureBox(n) {
    const kind = n.data.kind;
    const lines = labelLines(n);
    const weight = kind === 'subnet' ? 'normal' : 'bold';
    n.labelW = Math.ceil(Math.max(...lines.map((t) => textWidth(t, boxFont(n), weight)))) + 8;
    n.labelH = lines.length * (L.boxLine[kind] || L.boxLine.subnet) + 6;
    const leaves = n.children.filter((c) => !isBox(c));
    const boxes = n.children.filter(isBox);
    for (const c of n.children) measure(c);
    const g = { cols: 0, rows: 0, cellW: 0, cellH: 0, w: 0, h: 0 };
    if (leaves.length) {
      g.cols = gridColumns(leaves.length);
      g.rows = Math.ceil(leaves.length / g.cols);
      g.cellW = Math.max(...leaves.map((c) => c.outerW));
      g.cellH = Math.max(...leaves.map((c) => c.outerH));
      g.w = g.cols * g.cellW + (g.cols - 1) * L.gridGap;
      g.h = g.rows * g.cellH + (g.rows - 1) * L.gridGap;
    }
    const stackW = boxes.length ? Math.max(...boxes.map((c) => c.outerW)) : 0;
    const stackH = boxes.reduce((s, c) => s + c.outerH, 0) + Math.max(0, boxes.length - 1) * L.stackGap;
    n.grid = g;
    n.leaves = leaves;
    n.boxes = boxes;
    const empty = !n.children.length;
    n.innerW = empty ? L.emptyW : Math.max(g.w, stackW, n.labelW - 2 * L.pad);
    n.innerH = empty ? L.emptyH : g.h + stackH + (g.h && stackH ? L.stackGap : 0);
    n.bodyW = n.innerW + (empty ? 0 : 2 * L.pad);
    n.bodyH = n.innerH + (empty ? 0 : 2 * L.pad);
    n.outerW = Math.max(n.bodyW, n.labelW);
    n.outerH = n.labelH + n.bodyH;
  }

  function measure(n) {
    if (isBox(n)) measureBox(n);
    else measureLeaf(n);
  }

  /** Places `n` with its outer box (label included) centred on cx, top at `top`. */
  function place(n, cx, top, positions) {
    if (!isBox(n)) {
      const y = top + n.h / 2;
      positions.set(n.data.id, { x: cx, y });
      S.center.set(n.data.id, { x: cx, y });
      return;
    }
    const bodyTop = top + n.labelH;
    S.center.set(n.data.id, { x: cx, y: bodyTop + n.bodyH / 2 });
    S.box.set(n.data.id, { cx, cy: bodyTop + n.bodyH / 2, w: n.bodyW, y2: bodyTop + n.bodyH });
    if (!n.children.length) {
      positions.set(n.data.id, { x: cx, y: bodyTop + n.bodyH / 2 });
      return;
    }
    const innerTop = bodyTop + L.pad;
    const g = n.grid;
    n.leaves.forEach((c, i) => {
      const col = i % g.cols;
      const row = Math.floor(i / g.cols);
      const x = cx - g.w / 2 + col * (g.cellW + L.gridGap) + g.cellW / 2;
      place(c, x, innerTop + row * (g.cellH + L.gridGap) + (g.cellH - c.outerH) / 2, positions);
    });
    let y = innerTop + g.h + (g.h ? L.stackGap : 0);
    for (const c of n.boxes) {
      c.minW = n.innerW - 2 * L.pad; // stretch the stacked boxes to one width
      place(c, cx, y, positions);
      y += c.outerH + L.stackGap;
    }
  }

  /** Greedy rows of at most maxW wide, in order. */
  function packRows(items, maxW, gap) {
    const rows = [];
    let row = [];
    let w = 0;
    for (const it of items) {
      if (row.length && w + gap + it.outerW > maxW) {
        rows.push(row);
        row = [];
        w = 0;
      }
      w += (row.length ? gap : 0) + it.outerW;
      row.push(it);
    }
    if (row.length) rows.push(row);
    return rows;
  }

  function topAncestor(tree, id) {
    let n = tree.nodes.get(id);
    while (n && n.data.parent && tree.nodes.has(n.data.parent)) n = tree.nodes.get(n.data.parent);
    return n;
  }

  /** Whether an edge between two top-level slots would cross a box between them. */
  function needsArc(a, b) {
    return !!a && !!b && a.row === b.row && Math.abs(a.col - b.col) > 1;
  }

  /**
   * For a peering between neighbouring VNets: endpoints on the facing sides,
   * level with each other near the foot of the shorter box, so the line
   * crosses the gap flat and below the routes drawn at subnet height.
   */
  function sideEndpoints(e) {
    const a = S.topOf.get(e.source);
    const b = S.topOf.get(e.target);
    const p = S.box.get(e.source);
    const q = S.box.get(e.target);
    if (e.kind !== 'peering' || !a || !b || !p || !q || a.row !== b.row || Math.abs(a.col - b.col) !== 1) return null;
    const y = Math.min(p.y2, q.y2) - 22;
    const end = (box, toRight) => `${toRight ? box.w / 2 : -box.w / 2}px ${y - box.cy}px`;
    return { se: end(p, q.cx > p.cx), te: end(q, p.cx > q.cx) };
  }

  /**
   * Lays the whole graph out: VNets side by side in rows, everything else at
   * top level in rows beneath. Returns leaf positions; records body centres
   * and each node's top-level slot for the edges' arcs.
   */
  function layout(tree) {
    S.center.clear();
    S.box.clear();
    S.topOf.clear();
    for (const r of tree.roots) measure(r);
    const vnets = tree.roots.filter((r) => r.data.kind === 'vnet');
    const others = tree.roots.filter((r) => r.data.kind !== 'vnet');
    const area = vnets.reduce((s, v) => s + v.outerW * v.outerH, 0);
    const widest = Math.max(0, ...tree.roots.map((r) => r.outerW));
    const maxW = Math.max(L.minRowWidth, Math.sqrt(area * L.aspect), widest);
    const rows = [
      ...packRows(vnets, maxW, L.topGap).map((items) => ({ items, gap: L.topGap, up: true })),
      ...packRows(others, maxW, L.otherGap).map((items) => ({ items, gap: L.otherGap, up: false })),
    ];
    rows.forEach((row, ri) => row.items.forEach((it, ci) => (it.slot = { row: ri, col: ci, up: row.up, arcs: 0 })));
    const slotOf = (id) => {
      const t = topAncestor(tree, id);
      return t && t.slot;
    };
    for (const n of tree.nodes.values()) S.topOf.set(n.data.id, slotOf(n.data.id));
    // Count the arcs of each row first: they need headroom above (or below) it.
    const arcsPerRow = rows.map(() => 1); // one spare level for a trace
    for (const e of tree.edges) {
      const a = S.topOf.get(e.source);
      if (needsArc(a, S.topOf.get(e.target))) arcsPerRow[a.row] += 1;
    }
    const positions = new Map();
    let y = 0;
    rows.forEach((row, ri) => {
      const room = L.arcClear + arcsPerRow[ri] * L.arcStep;
      const arcs = row.items.length > 2; // room for arcs over the boxes between
      if (row.up && arcs) y += room;
      const height = Math.max(...row.items.map((it) => it.outerH));
      const width = row.items.reduce((s, it) => s + it.outerW, 0) + (row.items.length - 1) * row.gap;
      let x = -width / 2;
      for (const it of row.items) {
        place(it, x + it.outerW / 2, y, positions);
        Object.assign(it.slot, { top: y, bottom: y + height });
        x += it.outerW + row.gap;
      }
      y += height + (row.up ? L.rowGap : L.otherGap);
      if (!row.up && arcs) y += room;
    });
    return positions;
  }

  /**
   * The control-point distance that bends an edge over (or under) the boxes
   * between its ends, `level` arcs away from them; null when a straight line
   * is fine. Uses cytoscape's convention: the distance is along the normal
   * (-dy, dx) of the source-to-target vector.
   */
  function arcDistance(sourceId, targetId, level) {
    const a = S.topOf.get(sourceId);
    const b = S.topOf.get(targetId);
    if (!needsArc(a, b)) return null;
    const p = S.center.get(sourceId);
    const q = S.center.get(targetId);
    if (!p || !q) return null;
    const dx = q.x - p.x;
    const dy = q.y - p.y;
    const len = Math.hypot(dx, dy) || 1;
    const ny = dx / len;
    if (Math.abs(ny) < 0.2) return null;
    const off = L.arcClear + level * L.arcStep;
    const peakY = a.up ? Math.min(a.top, b.top) - off : Math.max(a.bottom, b.bottom) + off;
    const midY = (p.y + q.y) / 2;
    return (2 * (peakY - midY)) / ny; // a quadratic curve peaks halfway to its control point
  }

  // ---- Graph drawing -----------------------------------------------------

  function leafData(n, pos) {
    const d = Object.assign({}, n.data);
    d.w = n.w;
    d.h = n.h;
    d.tw = n.w - 2 * L.leafPadX;
    d.display = d.label || d.name || d.id;
    return { group: 'nodes', data: d, position: pos };
  }

  function boxData(n, pos) {
    const d = Object.assign({}, n.data);
    d.display = d.label || d.id;
    d.minW = Math.max(0, n.minW || 0);
    d.w = n.bodyW;
    d.h = n.bodyH;
    const out = { group: 'nodes', data: d, classes: 'box' };
    if (pos) out.position = pos; // only empty boxes: others follow their children
    return out;
  }

  /** Cytoscape elements with preset positions, arcs where needed. */
  function toElements(tree, positions) {
    const out = [];
    for (const n of tree.nodes.values()) {
      const pos = positions.get(n.data.id);
      out.push(isBox(n) ? boxData(n, pos) : leafData(n, pos));
    }
    const levels = new Map();
    for (const e of tree.edges) {
      if (!tree.nodes.has(e.source) || !tree.nodes.has(e.target)) continue;
      const d = Object.assign({}, e, { display: e.label || '', lm: labelMargin(e) });
      const slot = S.topOf.get(e.source);
      const level = slot ? levels.get(slot.row) || 0 : 0;
      const cpd = arcDistance(e.source, e.target, level);
      const side = cpd === null ? sideEndpoints(e) : null;
      if (cpd !== null) {
        levels.set(slot.row, level + 1);
        d.cpd = cpd;
      }
      Object.assign(d, side);
      out.push({ group: 'edges', data: d, classes: cpd !== null ? 'arc' : side ? 'side' : '' });
    }
    S.traceLevel = (row) => levels.get(row) || 0;
    return out;
  }

  /**
   * Edge labels sit beside their line, not on it: routes above, peerings and
   * the rest below, so the labels of two edges through one gap do not meet.
   */
  function labelMargin(e) {
    const lines = String(e.label || '').split('\n').length;
    const off = (lines * L.edgeLine) / 2 + 10;
    return e.kind === 'appliance_route' || e.kind === 'load_balancing' ? -off : off;
  }

  function graphStyle() {
    const kindNode = (kind, css) => ({ selector: `node[kind = "${kind}"]`, style: css });
    return [
      {
        selector: 'node',
        style: {
          label: 'data(display)', 'font-family': FONT, 'font-size': L.leafFont, color: '#1f2933',
          'text-wrap': 'wrap', 'text-max-width': 'data(tw)', 'text-valign': 'center', 'text-halign': 'center',
          'line-height': L.leafLine / L.leafFont, width: 'data(w)', height: 'data(h)',
          shape: 'round-rectangle', 'background-color': '#ffffff', 'border-width': 2, 'border-color': '#8796a8',
          'min-zoomed-font-size': MIN_FONT_PX,
          // An empty, zero-sized background image: without one, cytoscape
          // 3.34 flips each node's :backgrounding state on every draw and
          // restyles it (and its parents and children), which made every
          // frame redraw and restyle all nodes of a 1000-NIC lab.
          'background-image': BLANK_IMAGE, 'background-width': 0, 'background-height': 0,
        },
      },
      {
        selector: 'node.box',
        style: {
          'text-valign': 'top', 'text-halign': 'center', 'text-max-width': 2000, 'text-margin-y': -3,
          padding: L.pad, 'min-width': 'data(minW)', 'background-color': '#ffffff', 'border-width': 1,
          'border-color': '#b8c4d2', color: '#52606d', 'font-size': L.boxFont.subnet,
          'line-height': L.boxLine.subnet / L.boxFont.subnet,
        },
      },
      {
        selector: 'node.box[kind = "vnet"]',
        style: {
          'background-color': '#eef4fb', 'border-color': '#4a7fc1', 'border-width': 2, color: '#1d3f6e',
          'font-size': L.boxFont.vnet, 'font-weight': 'bold', 'line-height': L.boxLine.vnet / L.boxFont.vnet,
        },
      },
      {
        selector: 'node.box[kind = "site"]',
        style: {
          'background-color': '#f3f2ec', 'border-color': '#8a8670', 'border-width': 2, 'border-style': 'dashed',
          color: '#4d4a3b', 'font-size': L.boxFont.site, 'font-weight': 'bold', 'line-height': L.boxLine.site / L.boxFont.site,
        },
      },
      kindNode('nic', { 'background-color': '#e7f0fb', 'border-color': '#4a7fc1' }),
      kindNode('appliance', { 'background-color': '#fdf0dc', 'border-color': '#d9822b', 'border-style': 'double', 'border-width': 5 }),
      kindNode('gateway', {
        shape: 'polygon', 'shape-polygon-points': '-0.86 -1 0.86 -1 1 1 -1 1',
        'background-color': '#ece7f8', 'border-color': '#6b5bb5',
      }),
      kindNode('frontend', { 'corner-radius': 999, 'background-color': '#e0f4f1', 'border-color': '#2a9d8f' }),
      kindNode('firewall', { shape: 'cut-rectangle', 'background-color': '#fbe5e2', 'border-color': '#c0392b' }),
      kindNode('route_server', { shape: 'round-hexagon', 'background-color': '#e0f0f6', 'border-color': '#1f7a99' }),
      kindNode('circuit', { shape: 'barrel', 'background-color': '#f1e6f8', 'border-color': '#8e44ad' }),
      kindNode('site_node', { 'background-color': '#eceff1', 'border-color': '#5f6b76' }),
      kindNode('unreachable', {
        shape: 'round-octagon', 'background-color': '#fff3c4', 'border-color': '#d4a000',
        'border-style': 'dashed', color: '#6b4f00',
      }),
      { selector: 'node.probe-down', style: { 'border-color': '#d0312d', 'border-style': 'dashed' } },
      { selector: 'node.bgp-down', style: { 'border-color': '#d0312d', 'border-width': 3 } },
      { selector: 'node.trace', style: { 'border-color': '#d81b7a', 'background-color': '#fde4f0' } },
      { selector: 'node.trace-at', style: { 'border-color': '#d0312d', 'background-color': '#fdd9d7' } },
      { selector: 'node.picked', style: { 'background-color': '#fff2b3', 'border-color': '#1f2933' } },
      {
        selector: 'edge',
        style: {
          width: 1.5, 'line-color': '#8796a8', 'curve-style': 'bezier', 'z-compound-depth': 'top',
          label: 'data(display)', 'font-family': FONT, 'font-size': 10, color: '#3e4c59', 'text-wrap': 'wrap',
          'text-background-color': '#ffffff', 'text-background-opacity': 0.9, 'text-background-padding': 2,
          'text-background-shape': 'round-rectangle', 'min-zoomed-font-size': MIN_FONT_PX, 'text-margin-y': 'data(lm)',
          'line-height': L.edgeLine / 10,
          'target-arrow-color': '#8796a8', 'arrow-scale': 0.9,
        },
      },
      { selector: 'edge.side', style: { 'source-endpoint': 'data(se)', 'target-endpoint': 'data(te)' } },
      { selector: 'edge.arc', style: { 'curve-style': 'unbundled-bezier', 'control-point-distances': 'data(cpd)', 'control-point-weights': 0.5 } },
      { selector: 'edge[kind = "peering"]', style: { width: 2.5, 'line-color': '#4a7fc1', color: '#1d3f6e' } },
      { selector: 'edge[kind = "peering"][state = "initiated"]', style: { 'line-style': 'dashed', 'line-dash-pattern': [7, 5] } },
      {
        selector: 'edge[kind = "appliance_route"]',
        style: { 'line-color': '#d9822b', 'target-arrow-color': '#d9822b', 'target-arrow-shape': 'triangle', color: '#7a4a12' },
      },
      { selector: 'edge[kind = "connection"]', style: { width: 2, 'line-color': '#6b5bb5', color: '#3f3474' } },
      { selector: 'edge[kind = "connection"][state = "down"]', style: { 'line-color': '#d0312d', 'line-style': 'dashed', color: '#a01f1b' } },
      {
        selector: 'edge[kind = "load_balancing"]',
        style: {
          'line-color': '#2a9d8f', 'target-arrow-color': '#2a9d8f', 'target-arrow-shape': 'triangle', 'line-style': 'dotted',
          color: '#1d6b62', label: '', // short edges inside a subnet: labelled only for the selected backend
        },
      },
      { selector: 'edge[kind = "load_balancing"].show-label', style: { label: 'data(display)' } },
      { selector: 'edge.busy', style: { width: 'data(rw)', 'line-color': 'data(rc)', 'target-arrow-color': 'data(rc)' } },
      {
        selector: 'edge.trace',
        style: {
          width: 4, 'line-color': '#d81b7a', 'target-arrow-color': '#d81b7a', 'target-arrow-shape': 'triangle',
          'arrow-scale': 1.1, 'z-index': 999, label: '', opacity: 0.9,
        },
      },
    ];
  }

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

  function drawGraph(graph) {
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

  function fitGraph() {
    if (ui.cy) ui.cy.fit(undefined, 24);
  }

  /** Names to nodes (for traces), and the NICs' names (table, rates) in element order. */
  function indexNames(cy) {
    S.byName.clear();
    S.names = [];
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
    ['site_node', 'on-premises node'], ['unreachable', 'unreachable next hop'],
  ];

  function renderLegend(tree) {
    const kinds = new Set([...tree.nodes.values()].map((n) => n.data.kind));
    const edgeKinds = new Set(tree.edges.map((e) => e.kind));
    const items = LEGEND.filter(([k]) => kinds.has(k)).map(([k, text]) => el('li', { class: `sw sw-${k}` }, text));
    if (edgeKinds.has('peering')) items.push(el('li', { class: 'ln ln-peering' }, 'peering (dashed: initiated)'));
    if (edgeKinds.has('appliance_route')) items.push(el('li', { class: 'ln ln-route' }, 'route to appliance'));
    if (edgeKinds.has('connection')) items.push(el('li', { class: 'ln ln-connection' }, 'connection (red: down)'));
    if (edgeKinds.has('load_balancing')) items.push(el('li', { class: 'ln ln-lb' }, 'load balancing'));
    items.push(el('li', { class: 'ln ln-busy' }, 'traffic'), el('li', { class: 'ln ln-trace' }, 'trace'));
    $('legend').replaceChildren(...items);
  }

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
    const res = await fetch('api/graph', { cache: 'no-store' });
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
    const es = (S.events = new EventSource('events'));
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

  // ---- Rates -------------------------------------------------------------

  function zeroFillRates() {
    const rates = {};
    for (const name of S.names) rates[name] = zeroRate();
    for (const name of S.frameNics) rates[name] = Object.assign(zeroRate(), S.frame.nics[name]);
    ui.rates = rates;
  }

  /** Keeps the frame in the hook; draws it now, or when the page is shown again. */
  function onRates(frame) {
    const nics = frame.nics || {};
    for (const name of S.frameNics) if (!(name in nics)) ui.rates[name] = zeroRate();
    for (const name of Object.keys(nics)) ui.rates[name] = Object.assign(zeroRate(), nics[name]);
    frame.nics = nics;
    frame.links = frame.links || {};
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
  function refreshStaleNodes() {
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

  /** Applies one frame in one batch: only NICs and links in it or just gone idle. */
  function applyFrame(frame) {
    const cy = ui.cy;
    const nics = new Set(Object.keys(frame.nics));
    const links = new Set(Object.keys(frame.links));
    const touchedNics = [...nics, ...[...S.shownNics].filter((n) => !nics.has(n))];
    const touchedLinks = [...links, ...[...S.shownLinks].filter((l) => !links.has(l))];
    const view = { extent: cy.extent(), zoom: cy.zoom() };
    cy.batch(() => {
      for (const name of touchedNics) {
        const node = S.byName.get(name);
        if (!node) continue;
        if (labelReadable(node, view)) setNodeRate(node, frame.nics[name]);
        else S.staleNodes.add(name); // written when it comes into view
      }
      for (const id of touchedLinks) updateLink(cy.getElementById(id), frame.links[id]);
    });
    S.shownNics = nics;
    S.shownLinks = links;
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

  // ---- NICs table (only rows in view are written) ----------------------------

  function buildNicsTable() {
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

  function updateRows(names) {
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

  function refreshVisibleRows() {
    for (const name of S.visibleRows) writeRow(name);
  }

  // ---- State (peerings, BGP sessions, load balancer backends) ----------------

  function onState(state) {
    ui.state = state;
    if (ui.ready && !document.hidden) applyState(state);
  }

  /** A session is up when Azure would say Connected (gobgp: Established). */
  function sessionUp(s) {
    return s.state === 'Connected' || s.state === 'Established';
  }

  function applyState(state) {
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

  // ---- Drops -------------------------------------------------------------

  function onDrop(drop) {
    ui.drops.unshift(drop);
    if (ui.drops.length > DROPS_CAP) ui.drops.length = DROPS_CAP;
    S.dropTotal += drop.count || 1;
    S.pendingDrops.push(drop);
    if (!S.dropTimer) S.dropTimer = setTimeout(flushDrops, 100);
  }

  function clock(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso || '');
    const p = (n, w) => String(n).padStart(w || 2, '0');
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
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

  function flushDrops() {
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

  function selectNic(name, opts) {
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

  function clearSelection() {
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

  function updateCaptureLink() {
    if (!ui.selected) return;
    const filter = $('capture-filter').value.trim();
    let href = `capture/${encodeURIComponent(ui.selected)}.pcapng?seconds=10`;
    if (filter) href += `&filter=${encodeURIComponent(filter)}`;
    const a = $('capture-link');
    a.href = href;
    a.setAttribute('download', `${ui.selected}.pcapng`);
    a.textContent = `Download 10 s capture of ${ui.selected}`;
  }

  function flowsShown() {
    return !!ui.selected && S.tab === 'nic' && !document.hidden;
  }

  /** Runs the 2 s refresh only while the flows are on screen. */
  function syncFlowsTimer(now) {
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
      const res = await fetch(`api/flows?nic=${encodeURIComponent(nic)}`, { cache: 'no-store' });
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      const flows = await res.json();
      if (token === S.flowsToken && nic === ui.selected) renderFlows(Array.isArray(flows) ? flows : []);
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

  function renderFlows(flows) {
    $('flows').tBodies[0].replaceChildren(...flows.map(flowRow));
    $('flows-empty').hidden = flows.length > 0;
    $('flows-status').textContent = `${flows.length} · ${clock(new Date().toISOString())}`;
  }

  // ---- Tabs ----------------------------------------------------------------

  function showTab(tab) {
    S.tab = tab;
    for (const b of document.querySelectorAll('[data-tab]')) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    $('tab-trace').hidden = tab !== 'trace';
    $('tab-nic').hidden = tab !== 'nic';
    syncFlowsTimer();
  }

  // ---- Trace ---------------------------------------------------------------

  function fillTraceFrom() {
    const select = $('trace-from');
    const keep = select.value;
    const names = S.names.filter((n) => TRACE_FROM_KINDS.has(S.byName.get(n).data('kind')));
    select.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
    if (names.includes(keep)) select.value = keep;
  }

  function readTraceForm() {
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

  function traceKey(q) {
    return q ? [q.from, q.to, q.protocol, q.port].filter((x) => x !== null && x !== '').join(',') : '';
  }

  async function runTrace(q, opts) {
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
      res = await fetch(`api/trace?${params}`, { cache: 'no-store' });
      body = await res.json().catch(() => null);
    } catch (err) {
      if (token === S.traceToken) showTraceError(`Could not reach the daemon: ${err.message}`);
      return;
    }
    if (token !== S.traceToken) return; // a newer trace was asked for
    if (!res.ok || !body || body.error) {
      showTraceError((body && body.error) || `${res.status} ${res.statusText}`);
      return;
    }
    ui.trace = withSource(body);
    drawTrace(ui.trace);
    renderTrace(ui.trace);
  }

  /**
   * The answer with its path starting at the sending NIC: the trace engine
   * lists the names crossed after the source; the page draws (and the
   * hook's path lists) the source too.
   */
  function withSource(t) {
    const path = Array.isArray(t.path) ? t.path : [];
    if (!t.from || path[0] === t.from) return t;
    return Object.assign({}, t, { path: [t.from, ...path] });
  }

  function clearTrace() {
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

  // ---- URL state (#nic=vm1, #trace=vm1,10.2.1.4,tcp,80, or both joined by &) ---

  function parseHash() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    const out = { nic: params.get('nic') || null, trace: null };
    const t = params.get('trace');
    if (t) {
      const [from, to, protocol, port] = t.split(',').map((s) => s.trim());
      if (from && to) out.trace = { from, to, protocol: (protocol || 'icmp').toLowerCase(), port: port || null };
    }
    return out;
  }

  function writeHash() {
    const parts = [];
    if (ui.selected) parts.push(`nic=${encodeURIComponent(ui.selected)}`);
    if (S.traceQuery) parts.push(`trace=${traceKey(S.traceQuery).split(',').map(encodeURIComponent).join(',')}`);
    const hash = parts.length ? `#${parts.join('&')}` : '';
    if (hash !== location.hash) history.replaceState(null, '', hash || location.pathname + location.search);
  }

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
})();
