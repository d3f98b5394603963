// What a page is: it renders into <main>, may react to live changes, and cleans up when left.
import type { ChangeMessage } from '../api-types.js';
import { ApiError } from './api.js';
import { el } from './dom.js';

export interface Page {
  onChange?(change: ChangeMessage): void;
  dispose?(): void;
}

export function errorMessage(err: unknown): HTMLElement {
  const text = err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);
  return el('p', { class: 'error', role: 'alert' }, text);
}

/** Runs `task` at most once at a time; a request while running schedules exactly one more run. */
export function coalesce(task: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    task()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  return run;
}
