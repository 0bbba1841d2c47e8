// The console's only way to build DOM. Text — and all text from the server
// is text — becomes text nodes: nothing here parses HTML. Attributes are set
// one by one, and the dangerous ones are refused: event handler attributes
// (on…), style (the CSP forbids inline styles) and links out of the
// console's origin.

import { safeHref } from './lib.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Properties set as DOM properties, not attributes. */
const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'required', 'open']);

function setProps(el, props) {
  if (!props) return;
  for (const [name, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    const lower = name.toLowerCase();
    if (name === 'on') {
      for (const [type, fn] of Object.entries(v)) el.addEventListener(type, fn);
      continue;
    }
    if (lower.startsWith('on') || lower === 'style' || lower === 'srcdoc') {
      throw new Error('dom: attribute ' + name + ' is not allowed');
    }
    if ((lower === 'href' || lower === 'src' || lower === 'action' || lower === 'xlink:href') && !safeHref(String(v))) {
      throw new Error('dom: ' + name + ' must be a path of this origin');
    }
    if (PROPS.has(name)) {
      el[name] = v;
      continue;
    }
    el.setAttribute(name, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false || c === true) continue;
    if (Array.isArray(c)) append(el, c);
    else if (typeof c === 'object' && 'nodeType' in c) el.appendChild(c);
    else el.appendChild(globalThis.document.createTextNode(String(c)));
  }
}

/**
 * h builds an HTML element: h('td', {class: 'x', on: {click: fn}}, 'text',
 * node, [more]). Strings and numbers become text nodes.
 */
export function h(tag, props, ...children) {
  const el = globalThis.document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

/** svg builds an SVG element, as h does. */
export function svg(tag, props, ...children) {
  const el = globalThis.document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  append(el, children);
  return el;
}

/** clear removes el's children. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** replaceChildren empties el and appends children (as h does). */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}
