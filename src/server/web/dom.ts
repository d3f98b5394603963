// Building DOM without innerHTML: every string from the ledger becomes a text node, never markup.
export type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') node.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A table with a caption and column headers (scope=col); rows are arrays of cells. */
export function table(caption: string, headers: string[], rows: Child[][], options: { rowHeaders?: boolean; className?: string } = {}): HTMLElement {
  return el(
    'div',
    { class: `table-wrap ${options.className ?? ''}`.trim(), role: 'region', 'aria-label': caption, tabindex: 0 },
    el(
      'table',
      {},
      el('caption', {}, caption),
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
      el(
        'tbody',
        {},
        rows.length === 0
          ? el('tr', {}, el('td', { colspan: headers.length, class: 'empty' }, 'Nothing recorded yet.'))
          : rows.map((cells) =>
              el('tr', {}, cells.map((cell, i) => (i === 0 && options.rowHeaders ? el('th', { scope: 'row' }, cell) : el('td', {}, cell)))),
            ),
      ),
    ),
  );
}

export function section(title: string, id: string, ...children: Child[]): HTMLElement {
  return el('section', { 'aria-labelledby': id, class: 'panel' }, el('h2', { id }, title), ...children);
}
