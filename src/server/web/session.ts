// Beyond loopback a dashboard started with a token wants it for reads too (docs/security.md). The
// page asks once: the token is traded for an HttpOnly session cookie (POST /api/session), which
// every fetch and the EventSource then carry; the token itself is kept nowhere.
import { ApiError, getJson } from './api.js';
import { el, replaceChildren } from './dom.js';

/**
 * A form asking for the server token (never stored): `submit` gets the token and the live region to
 * report into. Used to sign in and to sign a checkpoint.
 */
export function tokenForm(id: string, intro: string, button: string, submit: (token: string, output: HTMLElement) => Promise<void>): { form: HTMLFormElement; input: HTMLInputElement } {
  const input = el('input', { id, name: 'token', type: 'password', autocomplete: 'off', required: true });
  const output = el('p', { 'aria-live': 'polite' });
  const form = el('form', { class: 'sign-form' }, el('p', {}, intro), el('label', { for: id }, 'Server token'), input, el('button', { type: 'submit', class: 'button' }, button), output);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit(input.value, output);
  });
  return { form, input };
}

/** Resolves when the API answers; until then shows a sign-in form in `main` (a 401 from GET /api). */
export async function ensureSession(main: HTMLElement): Promise<void> {
  try {
    await getJson('/api');
    return;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) return; // other errors show on the page itself
  }
  await new Promise<void>((resolve) => {
    const { form, input } = tokenForm('session-token', 'This dashboard is reachable beyond this machine, so it needs the token it was started with.', 'Sign in', async (token, output) => {
      const response = await fetch('/api/session', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      if (response.ok) resolve();
      else output.textContent = response.status === 401 ? 'Wrong token.' : `Sign-in failed (HTTP ${response.status}).`;
    });
    replaceChildren(main, el('h1', {}, 'Sign in'), form);
    input.focus();
  });
}
