// A minimal fake DOM for the rendering tests (dom.test.js, qa.test.js):
// elements, text nodes and attributes, and no HTML parser at all —
// innerHTML, outerHTML, insertAdjacentHTML and document.write throw.
// Importing it installs globalThis.document; import it before the modules
// under test.

// ------------------------------------------------------------ a fake DOM

export class FakeNode {
  constructor(nodeType) {
    this.nodeType = nodeType;
    this.childNodes = [];
    this.parentNode = null;
  }

  get firstChild() { return this.childNodes[0] || null; }

  appendChild(c) {
    if (c.parentNode) c.parentNode.removeChild(c);
    c.parentNode = this;
    this.childNodes.push(c);
    return c;
  }

  removeChild(c) {
    const i = this.childNodes.indexOf(c);
    if (i < 0) throw new Error('not a child');
    this.childNodes.splice(i, 1);
    c.parentNode = null;
    return c;
  }

  get textContent() { return this.childNodes.map((c) => c.textContent).join(''); }
}

export class FakeText extends FakeNode {
  constructor(data) {
    super(3);
    this.data = data;
  }

  get textContent() { return this.data; }
}

const forbidden = (name) => () => { throw new Error(name + ' used'); };

export class FakeElement extends FakeNode {
  constructor(tag, ns) {
    super(1);
    this.tagName = tag;
    this.namespaceURI = ns;
    this.attrs = new Map();
    this.listeners = {};
  }

  setAttribute(n, v) { this.attrs.set(String(n).toLowerCase(), String(v)); }

  getAttribute(n) { return this.attrs.has(n) ? this.attrs.get(n) : null; }

  removeAttribute(n) { this.attrs.delete(n); }

  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }

  get classList() {
    const el = this;
    const get = () => (el.getAttribute('class') || '').split(/\s+/).filter(Boolean);
    return {
      add: (c) => { const s = get(); if (!s.includes(c)) el.setAttribute('class', [...s, c].join(' ')); },
      remove: (c) => el.setAttribute('class', get().filter((x) => x !== c).join(' ')),
      contains: (c) => get().includes(c),
    };
  }

  // Only '[attr]' selectors, all the views need.
  querySelectorAll(sel) {
    const m = /^\[([\w-]+)\]$/.exec(sel);
    if (!m) throw new Error('fake DOM: unsupported selector ' + sel);
    return descendants(this).filter((e) => e.attrs.has(m[1]));
  }

  set textContent(v) {
    this.childNodes = [];
    this.appendChild(new FakeText(String(v)));
  }

  get textContent() { return super.textContent; }
}
for (const name of ['innerHTML', 'outerHTML']) {
  Object.defineProperty(FakeElement.prototype, name, { get: forbidden(name), set: forbidden(name) });
}
FakeElement.prototype.insertAdjacentHTML = forbidden('insertAdjacentHTML');

globalThis.document = {
  createElement: (tag) => new FakeElement(String(tag).toLowerCase(), 'http://www.w3.org/1999/xhtml'),
  createElementNS: (ns, tag) => new FakeElement(tag, ns),
  createTextNode: (data) => new FakeText(String(data)),
  write: forbidden('document.write'),
};

export function descendants(node) {
  const out = [];
  for (const c of node.childNodes) {
    if (c.nodeType === 1) {
      out.push(c);
      out.push(...descendants(c));
    }
  }
  return out;
}

export function textNodes(node) {
  const out = [];
  for (const c of node.childNodes) {
    if (c.nodeType === 3) out.push(c.data);
    else out.push(...textNodes(c));
  }
  return out;
}
