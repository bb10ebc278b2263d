// The deterministic O(n) layout, one pass to measure and one to place: VNets
// side by side in rows, everything else at top level in rows beneath. Turns
// the result into cytoscape elements with preset positions, arcs over the
// boxes in an edge's way, and edge labels beside their lines.

import { S } from './state.js';
import { textWidth } from './util.js';

const BOX_KINDS = new Set(['vnet', 'subnet', 'site']);

// Layout sizes, in graph pixels.
export const L = {
  leafFont: 11, leafLine: 14, leafPadX: 9, leafPadY: 7, leafMinW: 96, leafMaxW: 210,
  boxFont: { vnet: 13, site: 13, subnet: 11 }, boxLine: { vnet: 17, site: 17, subnet: 14 },
  pad: 12, gridGap: 14, stackGap: 14, emptyW: 110, emptyH: 26,
  topGap: 110, rowGap: 70, otherGap: 90, minRowWidth: 1800, aspect: 1.8,
  arcClear: 40, arcStep: 40, edgeLine: 12,
};

// ---- Measure and place -------------------------------------------------

export function buildTree(elements) {
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
export function layout(tree) {
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
export function arcDistance(sourceId, targetId, level) {
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

// ---- Cytoscape elements -------------------------------------------------

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
export function toElements(tree, positions) {
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
 * Edge labels sit beside their line, not on it: routes (and the ways in
 * from the Internet) above, peerings and the rest below, so the labels of
 * two edges through one gap do not meet.
 */
function labelMargin(e) {
  const lines = String(e.label || '').split('\n').length;
  const off = (lines * L.edgeLine) / 2 + 10;
  return ['appliance_route', 'load_balancing', 'ingress'].includes(e.kind) ? -off : off;
}
