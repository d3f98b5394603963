// The dashboard's entry point: a hash router over the pages and one live connection.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { LiveChanges } from './live.js';
import { el, replaceChildren } from './dom.js';
import { errorMessage, type Page } from './page.js';
import { comparisonsPage } from './pages/comparisons.js';
import { graphPage } from './pages/graph.js';
import { runPage } from './pages/run.js';
import { runsPage } from './pages/runs.js';
import { comparePage } from './pages/compare.js';
import { verificationPage } from './pages/verification.js';
import { modelPage, modelsPage } from './pages/models.js';
import { ensureSession } from './session.js';

interface Route {
  nav: string;
  title: (param: string) => string;
  /** `query`: the part of the hash after "?" (page state kept in the URL: filters, sort, selection). */
  render: (main: HTMLElement, param: string, query: URLSearchParams) => Promise<Page>;
}

const ROUTES: [RegExp, Route][] = [
  [/^#\/runs\/(.+)$/, { nav: 'runs', title: (id) => `Run ${id}`, render: (m, id) => runPage(m, id) }],
  [/^#\/(?:runs)?$/, { nav: 'runs', title: () => 'Runs', render: (m, _p, q) => runsPage(m, q) }],
  [/^#\/compare$/, { nav: 'runs', title: () => 'Compare runs', render: (m, _p, q) => comparePage(m, q) }],
  [/^#\/comparisons(?:\/(.+))?$/, { nav: 'comparisons', title: () => 'Comparisons', render: (m, id) => comparisonsPage(m, id || undefined) }],
  [/^#\/graph$/, { nav: 'graph', title: () => 'Experiment graph', render: (m) => graphPage(m) }],
  [/^#\/models\/(.+)$/, { nav: 'models', title: (name) => `Model ${name}`, render: (m, name) => modelPage(m, name) }],
  [/^#\/models$/, { nav: 'models', title: () => 'Models', render: (m) => modelsPage(m) }],
  [/^#\/verification$/, { nav: 'verification', title: () => 'Verification', render: (m) => verificationPage(m) }],
];

let current: Page | undefined;
let generation = 0;

async function route(main: HTMLElement, focus: boolean): Promise<void> {
  const full = location.hash || '#/runs';
  // In-page anchors (the skip link) are not routes.
  if (!full.startsWith('#/')) return;
  const cut = full.indexOf('?');
  const hash = cut < 0 ? full : full.slice(0, cut);
  const query = new URLSearchParams(cut < 0 ? '' : full.slice(cut + 1));
  const found = ROUTES.map(([pattern, r]) => [pattern.exec(hash), r] as const).find(([m]) => m !== null);
  current?.dispose?.();
  current = undefined;
  const mine = ++generation;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (found && a.dataset.nav === found[1].nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!found) {
    document.title = 'Not found · runledger';
    replaceChildren(main, el('h1', {}, 'Not found'), el('p', {}, 'No such page. ', el('a', { href: '#/runs' }, 'Back to runs')));
    return;
  }
  const [match, r] = found;
  const raw = match![1] ?? '';
  let param = raw;
  try {
    param = decodeURIComponent(raw);
  } catch {
    // A malformed escape in a hand-typed URL: use it as written (the API then says it is unknown).
  }
  document.title = `${r.title(param)} · runledger`;
  main.setAttribute('aria-busy', 'true');
  let page: Page;
  try {
    page = await r.render(main, param, query);
  } catch (err) {
    replaceChildren(main, el('h1', {}, r.title(param)), errorMessage(err));
    page = {};
  }
  main.removeAttribute('aria-busy');
  if (mine !== generation) {
    page.dispose?.();
    return;
  }
  current = page;
  // A new page starts at its top, and focus moves to it so keyboard and screen-reader users land on it.
  if (focus) {
    window.scrollTo(0, 0);
    main.focus({ preventScroll: true });
  }
}

async function start(): Promise<void> {
  const main = document.getElementById('main')!;
  await ensureSession(main);
  const live = new LiveChanges(document.getElementById('live-status')!);
  live.subscribe((change) => current?.onChange?.(change));
  document.getElementById('skip-link')!.addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', () => void route(main, true));
  void route(main, false);
  live.connect();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => void start());
else void start();
