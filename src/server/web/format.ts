// Number, time and digest formatting, and the status/verdict badges (text first, colour second).
import type { VerificationBadge } from '../api-types.js';
import { el } from './dom.js';

export function num(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (Number.isInteger(value) && Math.abs(value) < 1e9) return value.toLocaleString('en-US');
  return Math.abs(value) >= 1000 ? value.toLocaleString('en-US', { maximumFractionDigits: 1 }) : value.toPrecision(digits);
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${(value * 100).toFixed(1)}%`;
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const abs = Math.abs(value);
  if (abs < 1024) return `${value} B`;
  if (abs < 1024 ** 2) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 ** 2).toFixed(1)} MiB`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value < 1000 ? `${value.toFixed(0)} ms` : `${(value / 1000).toFixed(2)} s`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 19)} UTC`;
}

/** Time of day for dense tables; the full timestamp is in the title. */
export function shortWhen(iso: string | null | undefined): HTMLElement | string {
  if (!iso) return '—';
  return el('time', { datetime: iso, title: when(iso) }, `${new Date(iso).toISOString().slice(11, 19)} UTC`);
}

/** Axis ticks: 50M rather than 50,000,000. */
export function compact(value: number): string {
  return Math.abs(value) >= 10_000 ? new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(value) : num(value, 3);
}

/** A digest shortened for display; the full value stays available to copy and to screen readers. */
export function digest(hex: string | null | undefined, length = 12): HTMLElement | string {
  if (!hex) return '—';
  return el('code', { class: 'digest', title: hex, 'aria-label': hex }, `${hex.slice(0, length)}…`);
}

const BADGE_TEXT: Record<VerificationBadge, [string, string]> = {
  verified: ['verified', 'the full run replay passed against the latest signed checkpoint'],
  pending: ['pending', 'the events inside the latest signed checkpoint passed replay; later ones are not signed yet'],
  unsigned: ['not checkpointed', 'no signed checkpoint yet, or no verifier key to check it with'],
  failed: ['verification failed', 'the run replay failed: see the first divergence'],
};

export function verificationBadge(badge: VerificationBadge): HTMLElement {
  const [text, title] = BADGE_TEXT[badge];
  return el('span', { class: `badge badge-${badge}`, 'data-badge': badge, title }, text);
}

export function statusBadge(status: string): HTMLElement {
  return el('span', { class: `badge status-${status}` }, status);
}

export function verdictBadge(verdict: string | null): HTMLElement | string {
  return verdict ? el('span', { class: `badge verdict-${verdict}` }, verdict) : '—';
}
