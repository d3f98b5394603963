// Who an HTTP listener answers, with no framework: listen addresses, the Host check against DNS
// rebinding, duplicate Host headers and absolute-form targets, and bearer tokens compared in
// constant time. `serve` (src/server/security.ts) and `witness serve` (src/witness/server.ts) share it.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { InputError } from '../errors.js';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** RFC 1123 host name whose last label is not all digits (WHATWG URL would read that as IPv4). */
const HOST_NAME = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * The address `serve --host` listens on: an IPv4 or IPv6 address (brackets optional) or a host
 * name. Empty text (which Node would take as every interface) and `999.1.1.1` are InputErrors.
 */
export function listenAddress(host: string, option = '--host'): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.trim() === '') throw new InputError(`${option} is empty: name the address to listen on (127.0.0.1 unless told otherwise)`, { field: option });
  if (isIP(bare) !== 0) return bare;
  if (HOST_NAME.test(bare) && !/^\d+$/.test(bare.slice(bare.lastIndexOf('.') + 1))) return bare;
  throw new InputError(`${option} ${JSON.stringify(host)} is neither an IP address nor a host name`, { field: option });
}

/** An allowed Host name (--allowed-host): a host name or address, compared without port, case-insensitively. */
export function allowedHostName(name: string): string {
  const address = listenAddress(name, '--allowed-host');
  return isIP(address) === 6 ? `[${address.toLowerCase()}]` : address.toLowerCase();
}

/** True when a listen address reaches only this machine. */
export function isLoopbackBind(host: string): boolean {
  return isLoopback(host) || host === '::1' || /^::ffff:127\./i.test(host);
}

/** The host name of a Host header value, without the port. */
export function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  if (value.startsWith('[')) return value.slice(0, value.indexOf(']') + 1);
  const colon = value.lastIndexOf(':');
  return colon < 0 ? value : value.slice(0, colon);
}

/** Compares digests so neither the length nor the content of a secret leaks through timing. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of an Authorization header, if any. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
}

export interface HostPolicy {
  /** The listener binds loopback only. */
  loopbackOnly: boolean;
  /** Normalized names (allowedHostName) answered besides loopback names. */
  allowed: ReadonlySet<string>;
  /** Who answers, for the message ("this dashboard"). */
  who: string;
  /** The command whose --allowed-host adds names ("serve"). */
  command: string;
}

/**
 * Why a request must be refused before routing — several Host headers, an absolute-form target, or
 * a Host this listener does not answer — as a status and one sentence; undefined when it may proceed.
 */
export function requestRefusal(rawHeaders: readonly string[], url: string, host: string | undefined, policy: HostPolicy): { status: number; message: string } | undefined {
  // Node keeps the first of several Host headers; a proxy may have routed by another one.
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') hosts++;
  if (hosts > 1) return { status: 400, message: 'a request must carry exactly one Host header' };
  // Origin form only (RFC 9112 §3.2.1): an absolute URL would name a host of its own.
  if (!url.startsWith('/')) return { status: 400, message: 'the request target must be a path' };
  // A page on another site that resolves its own name to this server (DNS rebinding) sends its
  // own name as Host: only loopback names, --allowed-host names and, beyond loopback, IP
  // addresses (which no rebinding can forge) are answered.
  const name = hostName(host ?? '');
  const address = name.startsWith('[') ? name.slice(1, -1) : name;
  if (!isLoopback(name) && !policy.allowed.has(name) && (policy.loopbackOnly || isIP(address) === 0)) {
    const which = policy.loopbackOnly ? 'localhost' : 'its own addresses';
    const also = policy.allowed.size ? ` and ${[...policy.allowed].join(', ')}` : '';
    return { status: 421, message: `${policy.who} only answers requests for ${which}${also}, not "${host ?? ''}" (${policy.command} --allowed-host adds names)` };
  }
  return undefined;
}
