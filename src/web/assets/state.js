// The live page's shared state: window.vnetdUi, the test hooks
// (docs/src/watching.md lists them), the page's private state S, the
// constants more than one module uses, and $ to find an element by id.

export const ui = (window.vnetdUi = {
  ready: false,
  generation: null,
  host: null,
  seq: 0,
  rates: {},
  history: [], // the last HISTORY (graph.js) rates frames as received: {seq, interval_ms, nics, links, nat_gateways}
  drops: [],
  trace: null,
  state: null,
  selected: null,
  cy: null,
});

export const S = {
  byName: new Map(), // lab name -> cytoscape node
  names: [], // named nodes, in element order (table rows, rates zero-fill)
  center: new Map(), // node id -> {x, y} of its body, from the layout
  box: new Map(), // box (compound) id -> {cx, cy, w, y2} of its body
  topOf: new Map(), // node id -> layout slot of its top-level ancestor
  frame: null, // latest rates frame received
  frameNics: new Set(), // NICs non-zero in the latest frame received
  shownNics: new Set(), // NICs non-zero in the frame last drawn
  shownLinks: new Set(), // links busy in the frame last drawn
  natGateways: new Map(), // NAT gateway name -> its node (a NIC may have the same name)
  shownNatGateways: new Set(), // NAT gateways busy in the frame last drawn
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
  userMoved: false, // the user panned or zoomed: no fit on resize or trace (Fit clears it)
  traceLevel: null, // row -> how many of the graph's arcs go over it (layout.js sets it; a trace's go above)
};

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
export const NAMED_KINDS = new Set(['nic', 'appliance', 'gateway', 'site_node', 'internet']); // have ports: rates, flows, captures
export const MIN_FONT_PX = 7; // labels smaller than this on screen are not drawn

export const $ = (id) => document.getElementById(id);
