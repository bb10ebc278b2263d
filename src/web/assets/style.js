// The cytoscape style sheet: shape and colour of each node and edge kind
// (the Internet an ellipse, its ways out solid and ways in dashed),
// and of the classes the page sets (busy, trace, trace-at, picked,
// probe-down, bgp-down, show-label).

import { FONT, MIN_FONT_PX } from './state.js';
import { L } from './layout.js';

const BLANK_IMAGE = 'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'; // see node below

export function graphStyle() {
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
    kindNode('internet', { shape: 'ellipse', 'background-color': '#e3eefa', 'border-color': '#2b6cb0', 'border-width': 3 }),
    kindNode('nat_gateway', { 'background-color': '#dcf3ef', 'border-color': '#0f766e' }),
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
    { selector: 'edge[kind = "peering"][state = "connected-group"]', style: { 'line-style': 'dotted' } },
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
    {
      selector: 'edge[kind = "egress"], edge[kind = "ingress"]',
      style: { 'line-color': '#2b6cb0', 'target-arrow-color': '#2b6cb0', 'target-arrow-shape': 'triangle', color: '#1d4e80' },
    },
    { selector: 'edge[kind = "ingress"]', style: { 'line-style': 'dashed', 'line-dash-pattern': [6, 4] } },
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
