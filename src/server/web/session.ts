// Beyond loopback a dashboard started with a token wants it for reads too (docs/security.md). The
// page asks once: the token is traded for an HttpOnly session cookie (POST /api/session), which
// every fetch and the EventSource then carry; the token itself is kept nowhere.
import { ApiError, getJson } from './api.js';
import { el, replaceChildren } from './dom.js';

/** Resolves when the API answers; until then shows a sign-in form in `main` (a 401 from GET /api). */
export async function ensureSession(main: HTMLElement): Promise<void> {
  try {
    await getJson('/api');
    return;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) return; // other errors show on the page itself
  }
  await new Promise<void>((resolve) => {
    const input = el('input', { id: 'session-token', name: 'token', type: 'password', autocomplete: 'off', required: true });
    const output = el('p', { 'aria-live': 'polite' });
    const form = el(
      'form',
      { class: 'sign-form' },
      el('p', {}, 'This dashboard is reachable beyond this machine, so it needs the token it was started with.'),
      el('label', { for: 'session-token' }, 'Server token'),
      input,
      el('button', { type: 'submit', class: 'button' }, 'Sign in'),
      output,
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const response = await fetch('/api/session', { method: 'POST', headers: { authorization: `Bearer ${input.value}` } });
      if (response.ok) resolve();
      else output.textContent = response.status === 401 ? 'Wrong token.' : `Sign-in failed (HTTP ${response.status}).`;
    });
    replaceChildren(main, el('h1', {}, 'Sign in'), form);
    input.focus();
  });
}
