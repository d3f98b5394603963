// Model registry pages: the list of models, and one model's versions, alias timeline and every
// change with who, when, why and whether its inclusion proof verified under the signed checkpoint.
// Everything shown comes from GET /api/models…, which re-verifies the history from the log.
import type { ModelSummary } from '../../api-types.js';
import { getJson } from '../api.js';
import { el, replaceChildren, section, table } from '../dom.js';
import { digest, percent, when } from '../format.js';
import { coalesce, errorMessage, type Page } from '../page.js';

// The fields of GET /api/models/NAME these pages read (src/registry/model-history.ts is the full contract).
interface HistoryEntry {
  revision: number;
  change: 'registered' | 'alias-set' | 'alias-moved' | 'alias-deleted' | 'tag-set' | 'tag-deleted' | 'description-set';
  recordedAt: string;
  actor: string;
  version: number | null;
  alias: string | null;
  previousVersion: number | null;
  reason: string | null;
  runId: string | null;
  key: string | null;
  value: string | null;
  previousValue: string | null;
  anchored: boolean;
  inclusion: { index: number; size: number } | null;
}

interface ModelHistoryView {
  model: string;
  ok: boolean;
  anchored: boolean;
  checkpoint: { size: number; root: string } | null;
  versions: { version: number; runId: string; checkpointDigest: string | null; metrics: { testAccuracy: number } | null; artifact: { path: string; files: unknown[] } | null; registeredAt: string; registeredBy: string; aliases: string[]; description: string | null; tags: Record<string, string> }[];
  aliases: Record<string, number>;
  tags: Record<string, string>;
  description: string | null;
  entries: HistoryEntry[];
  firstDivergence?: { message: string };
}

interface ModelAt {
  at: string;
  versions: number[];
  aliases: { alias: string; version: number; setBy: HistoryEntry }[];
  anchored: boolean;
}

const modelPath = (name: string, suffix = ''): string => `/api/models/${encodeURIComponent(name)}${suffix}`;

function proofBadge(ok: boolean, anchored: boolean): HTMLElement {
  if (!ok) return el('span', { class: 'badge badge-failed', 'data-badge': 'failed' }, 'verification failed');
  return anchored
    ? el('span', { class: 'badge badge-verified', 'data-badge': 'verified', title: 'every change is proven included under the latest signed checkpoint' }, 'verified')
    : el('span', { class: 'badge badge-pending', 'data-badge': 'pending', title: 'some changes are after the latest signed checkpoint' }, 'not anchored yet');
}

export async function modelsPage(main: HTMLElement): Promise<Page> {
  const host = el('div');
  replaceChildren(main, el('h1', {}, 'Models'), el('p', { class: 'lede' }, 'Named models and their aliases. Every version comes from a verified run; every alias change is an event with its actor and reason.'), host);
  const load = async (): Promise<void> => {
    try {
      const { models } = await getJson<{ models: ModelSummary[] }>('/api/models');
      replaceChildren(
        host,
        models.length === 0
          ? el('p', {}, 'No models registered yet. Try "runledger model register NAME --run RUN".')
          : table(
              `${models.length} model${models.length === 1 ? '' : 's'}`,
              ['Model', 'Versions', 'Aliases', 'Last change', 'History'],
              models.map((m) => [
                el('a', { href: `#/models/${encodeURIComponent(m.model)}`, 'data-model': m.model }, m.model),
                String(m.versions),
                Object.entries(m.aliases).map(([a, v]) => `${a} → v${v}`).join(', ') || '—',
                when(m.lastChange),
                m.divergence ? el('span', {}, proofBadge(false, false), ' ', m.divergence) : proofBadge(m.ok, m.anchored),
              ]),
              { rowHeaders: true },
            ),
      );
    } catch (err) {
      replaceChildren(host, errorMessage(err));
    }
  };
  await load();
  const refresh = coalesce(load);
  return { onChange: () => refresh() };
}

export async function modelPage(main: HTMLElement, name: string): Promise<Page> {
  const host = el('div');
  replaceChildren(main, el('h1', {}, `Model ${name}`), host);
  const load = async (): Promise<void> => {
    try {
      const history = await getJson<ModelHistoryView>(modelPath(name));
      replaceChildren(host, ...modelSections(history));
    } catch (err) {
      replaceChildren(host, errorMessage(err));
    }
  };
  await load();
  const refresh = coalesce(load);
  return { onChange: () => refresh() };
}

function modelSections(h: ModelHistoryView): HTMLElement[] {
  const status = el(
    'p',
    { class: 'lede' },
    proofBadge(h.ok, h.anchored),
    ' ',
    h.ok ? `${h.entries.length} changes re-verified from the log${h.checkpoint ? `, proven under the signed checkpoint of ${h.checkpoint.size} events` : ''}.` : (h.firstDivergence?.message ?? 'verification failed'),
  );
  const about = [
    ...(h.description !== null ? [el('p', { 'data-model-description': '' }, h.description)] : []),
    ...(Object.keys(h.tags).length > 0 ? [el('p', { class: 'muted small', 'data-model-tags': '' }, `Tags: ${tagList(h.tags)}`)] : []),
  ];
  return [
    status,
    ...about,
    section('Alias timeline', 'alias-timeline', aliasTimeline(h.entries)),
    section(
      'Versions',
      'model-versions',
      table(
        `${h.versions.length} version${h.versions.length === 1 ? '' : 's'}`,
        ['Version', 'Run', 'Checkpoint or artifact', 'Test accuracy', 'Registered', 'By', 'Aliases', 'Tags'],
        h.versions.map((v) => [
          `v${v.version}`,
          el('a', { href: `#/runs/${encodeURIComponent(v.runId)}` }, v.runId),
          v.artifact ? `${v.artifact.path} (${v.artifact.files.length} file${v.artifact.files.length === 1 ? '' : 's'})` : digest(v.checkpointDigest),
          percent(v.metrics?.testAccuracy),
          when(v.registeredAt),
          v.registeredBy,
          v.aliases.join(', ') || '—',
          tagList(v.tags) || '—',
        ]),
        { rowHeaders: true },
      ),
    ),
    section('At a point in time', 'model-at', atForm(h.model)),
    section(
      'Changes',
      'model-changes',
      table(
        'Every change, oldest first',
        ['#', 'When', 'Actor', 'Change', 'Reason', 'Leaf', 'Inclusion proof'],
        h.entries.map((e) => [
          String(e.revision),
          when(e.recordedAt),
          e.actor,
          describeChange(e),
          e.reason ?? '—',
          e.inclusion ? String(e.inclusion.index) : '—',
          e.anchored ? el('span', { class: 'badge badge-verified' }, `verified (tree ${e.inclusion!.size})`) : el('span', { class: 'badge badge-pending' }, 'not anchored'),
        ]),
        { className: 'model-changes' },
      ),
    ),
  ];
}

const tagList = (tags: Record<string, string>): string => Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(', ');

function describeChange(e: HistoryEntry): string {
  const of = e.version === null ? 'the model' : `v${e.version}`;
  switch (e.change) {
    case 'tag-set':
      return `tagged ${of} ${e.key}=${e.value ?? ''}${e.previousValue === null ? '' : ` (was ${e.previousValue})`}`;
    case 'tag-deleted':
      return `deleted tag ${e.key} of ${of} (was ${e.previousValue ?? ''})`;
    case 'description-set':
      return `described ${of}`;
    case 'registered':
      return `registered v${e.version} from run ${e.runId ?? '?'}`;
    case 'alias-set':
      return `set ${e.alias} → v${e.version}`;
    case 'alias-moved':
      return `moved ${e.alias} v${e.previousVersion} → v${e.version}`;
    case 'alias-deleted':
      return `deleted ${e.alias} (was v${e.previousVersion})`;
  }
}

interface Segment {
  version: number;
  from: number;
  to: number | null;
  entry: HistoryEntry;
}

/** One lane per alias: which version it named from when to when. Positions are set through CSSOM (the CSP allows no inline style). */
function aliasTimeline(entries: HistoryEntry[]): HTMLElement {
  const lanes = new Map<string, Segment[]>();
  for (const e of entries) {
    if (e.alias === null) continue;
    const t = Date.parse(e.recordedAt);
    const lane = lanes.get(e.alias) ?? [];
    const open = lane.at(-1);
    if (open && open.to === null) open.to = t;
    if (e.change !== 'alias-deleted') lane.push({ version: e.version!, from: t, to: null, entry: e });
    lanes.set(e.alias, lane);
  }
  if (lanes.size === 0) return el('p', {}, 'No alias has been set yet. Try "runledger model alias NAME production 1 --reason …".');
  const start = Date.parse(entries[0]!.recordedAt);
  const end = Math.max(Date.now(), Date.parse(entries.at(-1)!.recordedAt) + 1);
  const span = Math.max(1, end - start);
  const pct = (t: number): number => ((t - start) / span) * 100;
  const list = el('ol', { class: 'alias-timeline', 'aria-label': 'Alias timeline' });
  for (const [alias, segments] of [...lanes.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const track = el('div', { class: 'alias-track' });
    for (const s of segments) {
      const label = `${alias} → v${s.version} from ${when(s.entry.recordedAt)}${s.to === null ? ' until now' : ` until ${when(new Date(s.to).toISOString())}`} (set by ${s.entry.actor}: ${s.entry.reason ?? ''})`;
      const bar = el('span', { class: `alias-segment version-${s.version % 6}`, title: label, 'data-alias': alias, 'data-version': s.version }, `v${s.version}`);
      bar.style.left = `${pct(s.from)}%`;
      bar.style.width = `${Math.max(1.5, pct(s.to ?? end) - pct(s.from))}%`;
      track.append(bar, el('span', { class: 'visually-hidden' }, label));
    }
    list.append(el('li', { class: 'alias-lane' }, el('span', { class: 'alias-name' }, alias), track));
  }
  return el('div', {}, list, el('p', { class: 'muted small' }, `From ${when(entries[0]!.recordedAt)} to now.`));
}

function atForm(model: string): HTMLElement {
  const input = el('input', { type: 'text', id: 'model-at-time', name: 't', placeholder: '2026-01-01T12:00:00Z', value: new Date().toISOString(), 'aria-describedby': 'model-at-help' });
  const output = el('div', { 'aria-live': 'polite', class: 'model-at-output' });
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    try {
      const at = await getJson<ModelAt>(modelPath(model, `/at?t=${encodeURIComponent(input.value)}`));
      replaceChildren(
        output,
        table(
          `Aliases at ${when(at.at)}${at.anchored ? '' : ' (not all anchored)'}`,
          ['Alias', 'Version', 'Set', 'By', 'Reason', 'Leaf'],
          at.aliases.map((a) => [a.alias, `v${a.version}`, when(a.setBy.recordedAt), a.setBy.actor, a.setBy.reason ?? '—', a.setBy.inclusion ? `${a.setBy.inclusion.index} (proof verified)` : 'not anchored']),
          { rowHeaders: true },
        ),
      );
    } catch (err) {
      replaceChildren(output, errorMessage(err));
    }
  };
  return el(
    'form',
    { class: 'sign-form', onsubmit: (event: Event) => void submit(event) },
    el('label', { for: 'model-at-time' }, 'Time (RFC 3339)'),
    input,
    el('button', { class: 'button', type: 'submit' }, 'Show aliases'),
    el('p', { id: 'model-at-help', class: 'muted small' }, 'Which version each alias named at that moment, answered from the verified history.'),
    output,
  );
}
