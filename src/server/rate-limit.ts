// Request rate limits for the write API: one token bucket per client address (a bucket of
// `burst` tokens refilled at `perSecond`; a request takes one or is answered 429 with Retry-After,
// RFC 9110 §10.2.3, which the MLflow client honours before it retries).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './security.js';

export interface RateLimit {
  /** Sustained requests per second per client. */
  perSecond: number;
  /** Requests a client may make at once before the sustained rate applies. */
  burst: number;
}

/** Generous for one training script logging step by step; a flood from one address is slowed, not served. */
export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 500, burst: 1000 };

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets by client key; pure apart from the clock it is given. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
    private readonly maxClients = 10_000,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('a rate limit needs perSecond > 0 and burst >= 1');
  }

  /** Takes a token for `key`: 0 when granted, else the seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    const known = this.buckets.get(key);
    const bucket = known ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = now;
    // Most recently used last, so the map's first key is the one to forget when it is full.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (!known && this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.limit.perSecond;
  }
}

/** onRequest hook: one token per request from the client's address, else 429. */
export function rateLimitHook(buckets: TokenBuckets) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const wait = buckets.take(request.ip);
    if (wait > 0) {
      const seconds = Math.max(1, Math.ceil(wait));
      throw new HttpError(429, `too many requests from ${request.ip}: at most ${buckets.limit.perSecond} per second (bursts of ${buckets.limit.burst}); retry after ${seconds} s`, { 'retry-after': String(seconds) });
    }
  };
}
