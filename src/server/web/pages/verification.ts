// Verification: the latest signed checkpoint, which runs it covers (inclusion proofs), a replay
// of any run with each check's outcome, and — with a token — signing a new checkpoint.
import type { ReplayView, ServerInfo, VerificationView } from '../../api-types.js';
import { getJson, runPath } from '../api.js';
import { el, replaceChildren, section, table } from '../dom.js';
import { digest, num, verificationBadge, when } from '../format.js';
import { coalesce, errorMessage, type Page } from '../page.js';
import { tokenForm } from '../session.js';

export async function verificationPage(main: HTMLElement): Promise<Page> {
  const checkpoint = el('div');
  const runs = el('div');
  const sign = el('div');
  const replayOutput = el('div', { class: 'replay-output', 'aria-live': 'polite', tabindex: -1 }, el('p', { class: 'muted' }, 'Choose "Replay" on a run above.'));
  replaceChildren(
    main,
    el('h1', {}, 'Verification'),
    el(
      'p',
      { class: 'lede' },
      'What the latest signed checkpoint vouches for. A run is verified when every one of its events is inside the checkpoint and an RFC 9162 inclusion proof of its last event reaches the signed root.',
    ),
    section('Latest checkpoint', 'checkpoint-title', checkpoint),
    section('Runs', 'runs-verification-title', runs),
    section(
      'Replay',
      'replay-title',
      el('p', {}, 'Replay re-projects a run from its raw events and checks bytes, schema, chain, plan hashes, stage order, run summary and inclusion against the signed checkpoint.'),
      replayOutput,
    ),
    sign,
  );
  const load = async (): Promise<void> => {
    try {
      const view = await getJson<VerificationView>('/api/verification');
      replaceChildren(checkpoint, checkpointFacts(view));
      replaceChildren(
        runs,
        table(
          'Replay of each run against the latest checkpoint',
          ['Run', 'Badge', 'Events', 'Included', 'Verified', 'Detail', 'Replay'],
          view.runs.map((r) => [
            el('a', { href: `#/runs/${encodeURIComponent(r.runId)}` }, r.runId),
            verificationBadge(r.badge),
            String(r.events),
            String(r.included),
            String(r.verifiedEvents),
            el('span', { class: 'detail' }, r.detail),
            replayButton(r.runId, 'Replay', replayOutput),
          ]),
          { rowHeaders: true },
        ),
      );
    } catch (err) {
      replaceChildren(checkpoint, errorMessage(err));
    }
  };
  await load();
  const info = await getJson<ServerInfo>('/api').catch(() => null);
  if (info && !info.readOnly) replaceChildren(sign, section('Sign a checkpoint', 'sign-title', signForm(load)));
  const refresh = coalesce(load);
  return { onChange: (change) => change.topics.includes('verification') && refresh() };
}

function checkpointFacts(view: VerificationView): HTMLElement {
  const c = view.checkpoint;
  if (!c) return el('p', {}, `No signed checkpoint yet (${num(view.treeSize)} events integrated). Run "runledger checkpoint" to sign one.`);
  return el(
    'dl',
    { class: 'facts' },
    [
      ['Tree size', `${num(c.size)} events (${num(view.treeSize)} integrated now)`],
      ['Root (SHA-256)', digest(c.root, 24)],
      ['Origin', c.origin],
      ['Signed by', c.signers.join(', ') || '—'],
      [
        'Signature',
        c.signatureValid === null
          ? el('span', { class: 'badge badge-unsigned' }, 'not checked: no verifier key in this home')
          : c.signatureValid
            ? el('span', { class: 'badge badge-verified' }, 'valid for the home verifier key')
            : el('span', { class: 'badge badge-failed' }, 'INVALID'),
      ],
      ['Verifier key', view.verifierKey ? el('code', { class: 'wrap' }, view.verifierKey) : '—'],
      ['Signed at', when(c.createdAt)],
      ['Checkpoints', String(view.checkpoints)],
    ].map(([k, v]) => el('div', {}, el('dt', {}, k as string), el('dd', {}, v as string | HTMLElement))),
  );
}

/** A button that replays the run on the server and lists each check in `output`. */
function replayButton(runId: string, label: string, output: HTMLElement): HTMLButtonElement {
  const button = el('button', { type: 'button', class: 'button', 'aria-label': `Replay run ${runId}` }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    replaceChildren(output, el('p', {}, `Replaying run ${runId}…`));
    try {
      const view = await getJson<ReplayView>(runPath(runId, '/replay'));
      replaceChildren(output, replayResult(view));
    } catch (err) {
      replaceChildren(output, errorMessage(err));
    } finally {
      button.disabled = false;
      if (!output.contains(button)) output.scrollIntoView({ block: 'nearest' });
    }
  });
  return button;
}

/** The run page's replay: a button and its result. */
export function replayPanel(runId: string): HTMLElement {
  const output = el('div', { class: 'replay-output', 'aria-live': 'polite' });
  return el(
    'div',
    { class: 'replay' },
    el('p', {}, 'Re-projects the run from its raw events and checks hashes, chain, plan, stage order and inclusion against the signed checkpoint.'),
    replayButton(runId, `Replay run ${runId}`, output),
    output,
  );
}

function replayResult(view: ReplayView): HTMLElement {
  return el(
    'div',
    { 'data-replay': view.ok ? 'ok' : 'failed' },
    el('p', {}, el('strong', {}, view.ok ? `Replay of run ${view.runId} passed: ${view.events} events checked` : `Replay of run ${view.runId} FAILED`), view.checkpointSize !== null ? ` against checkpoint ${view.checkpointSize}.` : '.'),
    el(
      'ul',
      { class: 'checks' },
      view.checks.map((c) => el('li', { class: `check check-${c.status}` }, el('span', { class: `badge check-badge-${c.status}` }, c.status), ' ', el('strong', {}, c.check), `: ${c.message}`)),
    ),
  );
}

function signForm(reload: () => Promise<void>): HTMLElement {
  const intro = 'This server accepts changes with its token. Signing integrates pending events and signs a checkpoint with the home key.';
  return tokenForm('token', intro, 'Sign checkpoint', async (token, output) => {
    try {
      const result = await getJson<{ created: boolean; size: number }>('/api/checkpoints', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      output.textContent = result.created ? `Signed checkpoint of ${result.size} events.` : `No new events; checkpoint ${result.size} stands.`;
      await reload();
    } catch (err) {
      output.textContent = err instanceof Error ? err.message : String(err);
    }
  }).form;
}
