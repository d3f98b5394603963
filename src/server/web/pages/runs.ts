// Runs table: sortable columns, free-text search, a filter expression, a column chooser and a
// selection to compare — all kept in the URL (`#/runs?filter=…&sort=…&q=…&cols=…&sel=…`), so a link
// shows the same view. The server filters, sorts and pages (GET /api/runs); the table renders only
// the rows in view (virtualized), fetching pages as they scroll in, so 10,000 runs stay smooth.
import type { RunRow } from '../../api-types.js';
import { getJson } from '../api.js';
import { el, replaceChildren, type Child } from '../dom.js';
import { num, percent, shortWhen, statusBadge, verificationBadge } from '../format.js';
import { coalesce, errorMessage, type Page } from '../page.js';

interface RunPageReply {
  total: number;
  matched: number;
  offset: number;
  runs: RunRow[];
}

interface Column {
  key: string;
  label: string;
  /** The server's sort field; none: not sortable. */
  sort?: string;
  cell: (r: RunRow) => Child;
  /** Shown unless the user hides it. */
  initial: boolean;
}

const ROW_HEIGHT = 37;
const PAGE_SIZE = 200;
const OVERSCAN = 10;
const MAX_SELECTION = 50;

function progress(run: RunRow): HTMLElement | string {
  if (run.step === null) return '—';
  if (!run.totalSteps) return `step ${run.step}`;
  return el(
    'span',
    { class: 'progress' },
    el('progress', { max: run.totalSteps, value: Math.min(run.step, run.totalSteps), 'aria-label': `run ${run.runId} progress` }),
    ` ${num(run.step)} / ${num(run.totalSteps)}`,
  );
}

/** A run's status, with the stage it is running; never a stale "planned" for a run in training. */
export function liveStatusBadge(r: Pick<RunRow, 'status' | 'stage'>): HTMLElement {
  return el('span', { class: 'status-cell', 'data-status': r.status }, statusBadge(r.status), r.stage ? el('span', { class: 'muted small', 'data-stage': r.stage }, ` ${r.stage}`) : null);
}

/** A final value once training completed, else the latest value, labelled so. */
export function metricCell(r: RunRow, name: string, format: (v: number) => string): Child {
  const final = r.final?.[name];
  if (final !== undefined) return el('span', { 'data-final': name }, format(final));
  const latest = r.latest?.values[name];
  if (latest === undefined) return '—';
  return el('span', { class: 'latest', 'data-latest': name, title: `latest value (up to step ${r.latest!.step}): not final` }, format(latest), el('span', { class: 'muted small' }, ' latest'));
}

const BASE_COLUMNS: Column[] = [
  { key: 'run', label: 'Run', sort: 'run', initial: true, cell: (r) => el('a', { href: `#/runs/${encodeURIComponent(r.runId)}`, 'data-run': r.runId }, r.runId) },
  { key: 'status', label: 'Status', sort: 'status', initial: true, cell: liveStatusBadge },
  { key: 'plan', label: 'Plan', sort: 'plan', initial: true, cell: (r) => r.plan ?? '—' },
  { key: 'campaign', label: 'Campaign', sort: 'campaign', initial: true, cell: (r) => r.campaign ?? '—' },
  { key: 'backend', label: 'Backend', sort: 'backend', initial: false, cell: (r) => r.backend ?? '—' },
  { key: 'seed', label: 'Seed', sort: 'seed', initial: false, cell: (r) => (r.seed === null ? '—' : String(r.seed)) },
  { key: 'step', label: 'Training step', sort: 'step', initial: true, cell: progress },
  { key: 'loss', label: 'Latest loss', sort: 'latest.loss', initial: true, cell: (r) => el('span', { 'data-field': 'loss' }, num(r.lastLoss)) },
  { key: 'testAccuracy', label: 'Test accuracy', sort: 'metrics.testAccuracy', initial: true, cell: (r) => metricCell(r, 'testAccuracy', percent) },
  { key: 'testLoss', label: 'Test loss', sort: 'metrics.testLoss', initial: false, cell: (r) => metricCell(r, 'testLoss', (v) => num(v)) },
  { key: 'checkpoints', label: 'Check\u00adpoints', sort: 'checkpoints', initial: true, cell: (r) => String(r.checkpoints) },
  { key: 'findings', label: 'Findings', initial: false, cell: (r) => (r.findings.hard + r.findings.soft > 0 ? `${r.findings.hard} hard, ${r.findings.soft} soft` : '—') },
  { key: 'verification', label: 'Verification', sort: 'verification', initial: true, cell: (r) => verificationBadge(r.verification) },
  { key: 'updated', label: 'Updated', sort: 'updated', initial: true, cell: (r) => shortWhen(r.updatedAt) },
];

function metricColumn(name: string): Column {
  return { key: `metrics.${name}`, label: name, sort: `metrics.${name}`, initial: false, cell: (r) => metricCell(r, name, (v) => num(v)) };
}

function paramColumn(name: string): Column {
  return { key: `params.${name}`, label: name, sort: `params.${name}`, initial: false, cell: (r) => (r.params[name] === undefined ? '—' : String(r.params[name])) };
}

interface TableState {
  filter: string;
  sort: string;
  q: string;
  /** Column keys shown; null: the defaults. */
  cols: string[] | null;
  selected: string[];
}

function readState(query: URLSearchParams): TableState {
  const list = (name: string): string[] => (query.get(name) ?? '').split(',').filter(Boolean);
  return { filter: query.get('filter') ?? '', sort: query.get('sort') ?? '', q: query.get('q') ?? '', cols: query.has('cols') ? list('cols') : null, selected: list('sel') };
}

function stateQuery(state: TableState): string {
  const q = new URLSearchParams();
  if (state.filter) q.set('filter', state.filter);
  if (state.sort) q.set('sort', state.sort);
  if (state.q) q.set('q', state.q);
  if (state.cols) q.set('cols', state.cols.join(','));
  if (state.selected.length) q.set('sel', state.selected.join(','));
  const text = q.toString();
  return text ? `?${text}` : '';
}

export async function runsPage(main: HTMLElement, query: URLSearchParams = new URLSearchParams()): Promise<Page> {
  const state = readState(query);
  let columns: Column[] = [...BASE_COLUMNS];
  const shown = (c: Column): boolean => (state.cols ? state.cols.includes(c.key) : c.initial);

  const filterInput = el('input', { id: 'runs-filter', type: 'text', value: state.filter, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'runs-filter-help', placeholder: 'metrics.testAccuracy > 0.9 and campaign = candidate', class: 'wide' });
  const searchInput = el('input', { id: 'runs-search', type: 'search', value: state.q, autocomplete: 'off', placeholder: 'run, plan, campaign, param…' });
  const queryError = el('div', { id: 'runs-query-error', 'aria-live': 'polite' });
  const count = el('p', { class: 'muted', id: 'runs-count', role: 'status' });
  const compareLink = el('a', { class: 'button', id: 'compare-selected', href: '#/compare' }, 'Compare');
  const clearSelection = el('button', { type: 'button', class: 'button secondary', id: 'clear-selection' }, 'Clear selection');
  const chooser = el('div', { class: 'column-chooser', role: 'group', 'aria-label': 'Columns' });
  const head = el('thead');
  const body = el('tbody');
  const tableEl = el('table', { id: 'runs-grid', 'aria-rowcount': 0 }, el('caption', { class: 'visually-hidden' }, 'Runs'), head, body);
  const scroller = el('div', { class: 'table-wrap runs-table runs-scroller', role: 'region', 'aria-label': 'Runs', tabindex: 0 }, tableEl);

  replaceChildren(
    main,
    el('h1', {}, 'Runs'),
    el('p', { class: 'lede' }, 'Every governed run in the ledger, newest activity first. Sort by any column, search, filter with an expression, choose columns and select runs to compare. The URL keeps the view: share it.'),
    el(
      'form',
      { class: 'runs-query', id: 'runs-query', role: 'search' },
      el('p', {}, el('label', { for: 'runs-search' }, 'Search '), searchInput),
      el('p', { class: 'grow' }, el('label', { for: 'runs-filter' }, 'Filter '), filterInput, ' ', el('button', { type: 'submit', class: 'button' }, 'Apply')),
      el('p', { id: 'runs-filter-help', class: 'muted small hint' }, 'Fields: status, stage, plan, campaign, verification, backend, seed, step, params.NAME, metrics.NAME (final), latest.NAME, tags.NAME; operators = != < <= > >= ~ exists; and, or, not, ( ). See docs/dashboard.md.'),
    ),
    queryError,
    el('details', { class: 'columns' }, el('summary', {}, 'Columns'), chooser),
    el('div', { class: 'selection-bar' }, count, compareLink, ' ', clearSelection),
    scroller,
  );

  // Rows by index in the server's order for the current query; pages fetched on demand.
  let rows: (RunRow | undefined)[] = [];
  const loading = new Set<number>();
  let generation = 0;
  let matched = 0;
  let total = 0;

  const apiQuery = (offset: number): string => {
    const q = new URLSearchParams({ offset: String(offset), limit: String(PAGE_SIZE) });
    if (state.filter) q.set('filter', state.filter);
    if (state.sort) q.set('sort', state.sort);
    if (state.q) q.set('q', state.q);
    return `/api/runs?${q}`;
  };

  const saveUrl = (): void => {
    history.replaceState(null, '', `#/runs${stateQuery(state)}`);
    const n = state.selected.length;
    compareLink.textContent = n ? `Compare ${n} selected` : 'Compare';
    compareLink.setAttribute('href', `#/compare?runs=${state.selected.map(encodeURIComponent).join(',')}`);
    if (n < 2) compareLink.setAttribute('aria-disabled', 'true');
    else compareLink.removeAttribute('aria-disabled');
    clearSelection.hidden = n === 0;
  };

  const renderHead = (): void => {
    const visible = columns.filter(shown);
    replaceChildren(
      head,
      el(
        'tr',
        {},
        el('th', { scope: 'col', class: 'select-col' }, el('span', { class: 'visually-hidden' }, 'Select')),
        visible.map((c) => {
          const dir = state.sort === c.sort ? 'ascending' : state.sort === `-${c.sort}` ? 'descending' : null;
          if (!c.sort) return el('th', { scope: 'col', 'data-col': c.key }, c.label);
          return el(
            'th',
            { scope: 'col', 'data-col': c.key, 'aria-sort': dir ?? 'none' },
            el(
              'button',
              {
                type: 'button',
                class: 'sort',
                'data-sort': c.sort,
                onclick: () => {
                  // First click: best first for metrics (descending), A→Z for the rest; then toggle.
                  const firstDescending = c.sort!.startsWith('metrics.') || c.sort!.startsWith('latest.') || c.key === 'updated';
                  state.sort = dir === null ? (firstDescending ? `-${c.sort}` : c.sort!) : dir === 'ascending' ? `-${c.sort}` : c.sort!;
                  reload();
                },
              },
              c.label,
              el('span', { class: 'sort-mark', 'aria-hidden': 'true' }, dir === 'ascending' ? ' ▲' : dir === 'descending' ? ' ▼' : ''),
            ),
          );
        }),
      ),
    );
  };

  const renderChooser = (): void => {
    replaceChildren(
      chooser,
      columns.map((c) =>
        el(
          'label',
          { class: 'chooser-item' },
          el('input', {
            type: 'checkbox',
            'data-column': c.key,
            checked: shown(c),
            onchange: (event: Event) => {
              const on = (event.target as HTMLInputElement).checked;
              const current = columns.filter(shown).map((x) => x.key);
              state.cols = on ? columns.map((x) => x.key).filter((k) => k === c.key || current.includes(k)) : current.filter((k) => k !== c.key);
              renderHead();
              renderRows();
              saveUrl();
            },
          }),
          ` ${c.label}`,
        ),
      ),
    );
  };

  const rowFor = (r: RunRow | undefined, index: number, visible: Column[]): HTMLElement => {
    if (!r) return el('tr', { class: 'placeholder', 'aria-rowindex': index + 2 }, el('td', { colspan: visible.length + 1, class: 'empty' }, 'Loading…'));
    const checked = state.selected.includes(r.runId);
    return el(
      'tr',
      { 'aria-rowindex': index + 2, 'data-row': r.runId, 'aria-selected': checked ? 'true' : 'false' },
      el(
        'td',
        { class: 'select-col' },
        el('input', {
          type: 'checkbox',
          'aria-label': `select run ${r.runId}`,
          'data-select': r.runId,
          checked,
          onchange: (event: Event) => {
            const on = (event.target as HTMLInputElement).checked;
            state.selected = on ? [...state.selected.filter((id) => id !== r.runId), r.runId].slice(-MAX_SELECTION) : state.selected.filter((id) => id !== r.runId);
            saveUrl();
            renderRows();
          },
        }),
      ),
      visible.map((c, i) => (i === 0 ? el('th', { scope: 'row' }, c.cell(r)) : el('td', {}, c.cell(r)))),
    );
  };

  // Only the rows in view (plus a margin) exist in the DOM; spacer rows keep the scroll height true.
  const renderRows = (): void => {
    const visible = columns.filter(shown);
    if (matched === 0) {
      replaceChildren(body, el('tr', {}, el('td', { colspan: visible.length + 1, class: 'empty' }, total === 0 ? 'Nothing recorded yet.' : 'No run matches the search and filter.')));
      return;
    }
    const top = Math.max(0, scroller.scrollTop - (head.offsetHeight || ROW_HEIGHT));
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const inView = Math.ceil((scroller.clientHeight || 600) / ROW_HEIGHT) + 2 * OVERSCAN;
    const last = Math.min(matched, first + inView);
    const before = el('tr', { class: 'spacer', 'aria-hidden': 'true' });
    before.style.height = `${first * ROW_HEIGHT}px`;
    const after = el('tr', { class: 'spacer', 'aria-hidden': 'true' });
    after.style.height = `${(matched - last) * ROW_HEIGHT}px`;
    const slice: HTMLElement[] = [];
    for (let i = first; i < last; i++) slice.push(rowFor(rows[i], i, visible));
    replaceChildren(body, first > 0 ? before : null, slice, last < matched ? after : null);
    body.dataset.first = String(first);
    body.dataset.rendered = String(last - first);
    // `rows` is sparse: look at each index (array methods skip holes, i.e. exactly the rows not loaded).
    for (let page = Math.floor(first / PAGE_SIZE) * PAGE_SIZE; page < last; page += PAGE_SIZE) {
      for (let i = Math.max(page, first); i < Math.min(last, page + PAGE_SIZE); i++) {
        if (rows[i] === undefined) {
          void fetchPage(page);
          break;
        }
      }
    }
  };

  // Columns for every param and metric the rows carry (open names: whatever user code logged).
  const BUILT_IN = new Set(['testAccuracy', 'testLoss']);
  const discoverColumns = (page: RunRow[]): void => {
    const known = new Set(columns.map((c) => c.key));
    const fresh = (keys: string[], prefix: string, make: (k: string) => Column): Column[] =>
      [...new Set(keys)].filter((k) => !known.has(`${prefix}${k}`) && !(prefix === 'metrics.' && BUILT_IN.has(k))).sort().map(make);
    const added = [
      ...fresh(page.flatMap((r) => Object.keys(r.params)), 'params.', paramColumn),
      ...fresh(page.flatMap((r) => [...Object.keys(r.final ?? {}), ...Object.keys(r.latest?.values ?? {})]), 'metrics.', metricColumn),
    ];
    if (added.length === 0) return;
    columns = [...columns, ...added];
    renderChooser();
    renderHead();
  };

  const fetchPage = async (offset: number): Promise<void> => {
    if (loading.has(offset)) return;
    loading.add(offset);
    const mine = generation;
    try {
      const reply = await getJson<RunPageReply>(apiQuery(offset));
      if (mine !== generation) return;
      replaceChildren(queryError);
      matched = reply.matched;
      total = reply.total;
      if (rows.length !== matched) rows.length = matched;
      reply.runs.forEach((r, i) => (rows[offset + i] = r));
      tableEl.setAttribute('aria-rowcount', String(matched + 1));
      count.textContent = `${matched === total ? `${total} run${total === 1 ? '' : 's'}` : `${matched} of ${total} runs match`}${state.selected.length ? `; ${state.selected.length} selected` : ''}`;
      discoverColumns(reply.runs);
      renderRows();
    } catch (err) {
      if (mine === generation) {
        replaceChildren(queryError, errorMessage(err));
        rows = [];
        matched = 0;
        renderRows();
      }
    } finally {
      loading.delete(offset);
    }
  };

  /** A new query: forget the rows, fetch from the top. */
  const reload = (): void => {
    generation++;
    rows = [];
    loading.clear();
    scroller.scrollTop = 0;
    renderHead();
    saveUrl();
    void fetchPage(0);
  };

  const form = main.querySelector('#runs-query') as HTMLFormElement;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    state.filter = filterInput.value.trim();
    state.q = searchInput.value.trim();
    reload();
  });
  let searchTimer: number | undefined;
  searchInput.addEventListener('input', () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => {
      state.q = searchInput.value.trim();
      reload();
    }, 200);
  });
  clearSelection.addEventListener('click', () => {
    state.selected = [];
    saveUrl();
    renderRows();
  });
  let frame = 0;
  scroller.addEventListener('scroll', () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      renderRows();
    });
  });

  renderChooser();
  renderHead();
  saveUrl();
  await fetchPage(0);

  // Live: refetch the pages in view, keeping the scroll position and the query.
  const refresh = coalesce(async () => {
    generation++;
    const first = Number(body.dataset.first ?? 0);
    rows = [];
    loading.clear();
    await fetchPage(Math.floor(first / PAGE_SIZE) * PAGE_SIZE);
  });
  return {
    onChange: (change) => change.topics.includes('runs') && refresh(),
    dispose: () => window.clearTimeout(searchTimer),
  };
}
