// The one place that talks to the platform: got with a keep-alive agent and deadlines; answers become typed results or PlatformErrors.
import http from 'node:http';
import https from 'node:https';
import { got, RequestError, TimeoutError, type Got, type OptionsInit } from 'got';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import { isUsableToken, tokenLifetimeSec } from '../tokens/policy.js';

/** What login and refresh return, with the lifetime turned into absolute times. */
export interface TokenGrant {
  accessToken: string;
  refreshToken: string | undefined;
  /** Lifetime in seconds, from the platform's `expiresIn`. */
  expiresIn: number;
}

export interface PlatformCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Already filled and encoded platform path, starting with `/`. */
  path: string;
  query?: Readonly<Record<string, unknown>>;
  body?: unknown;
  appId: string;
  token: string;
  /** Absolute epoch ms by which the call must be over. */
  deadline: number;
}

export interface PlatformResponse {
  status: number;
  /** Parsed JSON, or null for an empty body. */
  body: unknown;
}

/**
 * Why a platform call failed:
 * - `code`: the platform answered with an `error_code` (even with HTTP 200);
 * - `http`: a non-2xx answer without a usable error body;
 * - `bad-body`: a 2xx answer that is not the JSON it should be;
 * - `too-large`: an answer over PLATFORM_MAX_RESPONSE_BYTES (after decompression), cut off;
 * - `timeout`: no answer by the deadline;
 * - `unavailable`: no connection (refused, reset, DNS, TLS);
 * - `local`: this machine could not even open a socket (out of file descriptors, ports, buffers): the
 *   gateway's own outage, which says nothing about the platform (never sent, never an outage of it).
 */
export type PlatformErrorKind = 'code' | 'http' | 'bad-body' | 'too-large' | 'timeout' | 'unavailable' | 'local';

export class PlatformError extends Error {
  constructor(
    readonly kind: PlatformErrorKind,
    message: string,
    readonly details: {
      platformCode?: string;
      httpStatus?: number;
      /** False when the request certainly did not reach the platform (connection refused, DNS). */
      sent: boolean;
      /** Network error code (ECONNRESET…) where there is one. */
      errno?: string;
    },
  ) {
    super(message);
    this.name = 'PlatformError';
  }

  get platformCode(): string | undefined {
    return this.details.platformCode;
  }

  /** Failures that say the platform is unwell, as opposed to it refusing this request. */
  get isOutage(): boolean {
    return (
      this.kind === 'timeout' ||
      this.kind === 'unavailable' ||
      this.kind === 'bad-body' ||
      (this.kind === 'http' && (this.details.httpStatus ?? 0) >= 500)
    );
  }
}

const LOGIN_PATH = 'iocm/app/sec/v1.1.0/login';
const REFRESH_PATH = 'iocm/app/sec/v1.1.0/refreshToken';
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/**
 * Socket errors that never leave this machine and say nothing about the platform: out of file descriptors
 * (EMFILE, ENFILE), of local ports (EADDRNOTAVAIL), of kernel buffers or memory (ENOBUFS, ENOMEM). Counting
 * them as platform failures opened the circuit for every app and retried GETs into more quota (issue 17).
 */
const LOCAL = new Set(['EMFILE', 'ENFILE', 'EADDRNOTAVAIL', 'ENOBUFS', 'ENOMEM']);
/** Transport error codes kept as metric label values; any other is counted as `network` (bounded labels). */
const KNOWN_ERRNO = new Set([
  ...NOT_SENT,
  ...LOCAL,
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EPROTO',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
]);
/** What a platform code looks like: digits, at most 10 (anything else is not echoed or counted as one). */
const PLATFORM_CODE_SHAPE = /^\d{1,10}$/;

/** The platform's `error_code` when it looks like one; undefined for anything else (a 4 KB string, say). */
export function sanePlatformCode(raw: unknown): string | undefined {
  const code = typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0 ? String(raw) : raw;
  return typeof code === 'string' && PLATFORM_CODE_SHAPE.test(code) ? code : undefined;
}

/** The `outcome` label of a platform call answered with `status`: a registered HTTP status, or `other`. */
function statusLabel(status: number): string {
  return http.STATUS_CODES[status] !== undefined ? String(status) : 'other';
}

export interface PlatformClientOptions {
  /** Says whether the catalog knows a platform code; others are counted as `other` in metrics (bounded labels). */
  knownCode?: (code: string) => boolean;
}

export interface PlatformClient {
  login(appId: string, secret: string, deadline: number): Promise<TokenGrant>;
  refresh(appId: string, secret: string, refreshToken: string, deadline: number): Promise<TokenGrant>;
  call(req: PlatformCall): Promise<PlatformResponse>;
  close(): void;
}

export function createPlatformClient(
  config: Pick<Config, 'platformUrl' | 'platformKeepAliveMs' | 'platformTls' | 'platformMaxResponseBytes'>,
  metrics?: Metrics,
  opts: PlatformClientOptions = {},
): PlatformClient {
  const knownCode = opts.knownCode ?? (() => false);
  const maxBytes = config.platformMaxResponseBytes;
  // The idle timeout of pooled sockets stays below the platform's keep-alive, so that we never
  // write on a socket the platform is closing (the keep-alive ECONNRESET of got#2352, node#47130).
  const agentOptions = { keepAlive: true, timeout: config.platformKeepAliveMs, maxSockets: 256, maxFreeSockets: 64 };
  const agent = {
    http: new http.Agent(agentOptions),
    https: new https.Agent({
      ...agentOptions,
      ...(config.platformTls.ca ? { ca: config.platformTls.ca } : {}),
      ...(config.platformTls.cert ? { cert: config.platformTls.cert, key: config.platformTls.key } : {}),
    }),
  };
  // Built once: per-request option objects are what makes got costly on the hot path (perf-anchors.md).
  const client: Got = got.extend({
    prefixUrl: config.platformUrl,
    agent,
    retry: { limit: 0 }, // retries are the gateway's decision (quota, idempotency), not got's
    throwHttpErrors: false,
    followRedirect: false,
    responseType: 'text',
    cache: false,
    decompress: true,
    headers: { 'user-agent': 'iot-bff', accept: 'application/json' },
  });

  /**
   * One exchange, read as a stream with a byte counter: the answer is cut off as soon as it passes
   * `maxBytes` after decompression, so neither a gzip bomb nor a 150 MB JSON is ever held (issue 17,
   * finding 4). got's promise API buffers the whole body, and its downloadProgress event stops firing once
   * the inflated size passes the compressed Content-Length, so neither could bound it.
   */
  function exchange(url: string, options: OptionsInit): Promise<{ statusCode: number; body: string }> {
    return new Promise((resolve, reject) => {
      const stream = client.stream(url, options as never);
      // In stream mode got ends a request by itself only for GET/HEAD or when it has a body to send; a
      // DELETE (or POST) without one would wait for us until its deadline.
      const method = String(options.method ?? 'GET').toUpperCase();
      const hasBody = options.json !== undefined || options.form !== undefined || options.body !== undefined;
      if (!hasBody && method !== 'GET' && method !== 'HEAD') stream.end();
      const chunks: Buffer[] = [];
      let size = 0;
      let statusCode = 0;
      let settled = false;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        chunks.length = 0;
        stream.destroy();
        reject(err);
      };
      const tooLarge = (): PlatformError =>
        new PlatformError('too-large', `platform answer over ${maxBytes} bytes`, { httpStatus: statusCode, sent: true });
      stream.on('response', (res: { statusCode: number; headers: IncomingHttpHeaders }) => {
        statusCode = res.statusCode;
        // An honest Content-Length over the limit is refused before a byte is read (compressed answers
        // are counted as they inflate, below).
        const declared = Number(res.headers['content-length']);
        if (res.headers['content-encoding'] === undefined && declared > maxBytes) fail(tooLarge());
      });
      stream.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > maxBytes) return fail(tooLarge());
        chunks.push(chunk);
      });
      stream.once('end', () => {
        if (settled) return;
        settled = true;
        resolve({ statusCode, body: Buffer.concat(chunks, size).toString('utf8') });
      });
      stream.once('error', fail);
    });
  }

  async function send(
    kind: 'api' | 'login' | 'refresh',
    appId: string,
    url: string,
    options: OptionsInit,
    deadline: number,
  ): Promise<PlatformResponse> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new PlatformError('timeout', 'deadline passed before the call', { sent: false });
    const started = process.hrtime.bigint();
    let outcome = 'error';
    try {
      const res = await exchange(url, { ...options, timeout: { request: remaining } });
      const status = res.statusCode;
      const text = res.body;
      const parsed = parseBody(text);
      if (parsed.ok && isErrorBody(parsed.value)) {
        // Only a code-shaped value is kept: it becomes a metric label and is echoed to callers (finding 5).
        const code = sanePlatformCode(parsed.value.error_code);
        outcome = code !== undefined && knownCode(code) ? code : 'other';
        throw new PlatformError('code', `platform error ${code ?? '(malformed code)'}`, {
          ...(code !== undefined && { platformCode: code }),
          httpStatus: status,
          sent: true,
        });
      }
      if (status < 200 || status >= 300) {
        outcome = statusLabel(status);
        throw new PlatformError('http', `platform answered HTTP ${status}`, { httpStatus: status, sent: true });
      }
      if (!parsed.ok) {
        outcome = 'bad-body';
        throw new PlatformError('bad-body', 'platform answered a body that is not JSON', { httpStatus: status, sent: true });
      }
      outcome = 'ok';
      return { status, body: parsed.value };
    } catch (err) {
      if (err instanceof PlatformError) {
        if (err.kind === 'too-large') outcome = 'too-large';
        throw err;
      }
      throw classifyTransportError(err, (o) => (outcome = o));
    } finally {
      metrics?.platformCalls.inc({ app: appId, kind, outcome });
      metrics?.platformDuration.observe({ kind }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  function grant(res: PlatformResponse): TokenGrant {
    const b = res.body as Record<string, unknown> | null;
    // A token with CR/LF or control characters would break every call's Authorization header for the
    // token's whole life (and count as platform outages): it is a bad answer, refused here (issue 17, finding 9).
    if (!b || !isUsableToken(b.accessToken)) {
      throw new PlatformError('bad-body', 'login answer has no usable accessToken', { httpStatus: res.status, sent: true });
    }
    return {
      accessToken: b.accessToken,
      refreshToken: isUsableToken(b.refreshToken) ? b.refreshToken : undefined,
      expiresIn: tokenLifetimeSec(b.expiresIn),
    };
  }

  return {
    async login(appId, secret, deadline) {
      // Form-encoded, unlike every other call (platform-api.md §2.1).
      return grant(await send('login', appId, LOGIN_PATH, { method: 'POST', form: { appId, secret } }, deadline));
    },
    async refresh(appId, secret, refreshToken, deadline) {
      return grant(
        await send('refresh', appId, REFRESH_PATH, { method: 'POST', json: { appId, secret, refreshToken } }, deadline),
      );
    },
    call(req) {
      const options: OptionsInit = {
        method: req.method,
        headers: { app_key: req.appId, authorization: `Bearer ${req.token}` },
      };
      if (req.query && Object.keys(req.query).length > 0) options.searchParams = stringifyQuery(req.query);
      if (req.body !== undefined) options.json = req.body;
      return send('api', req.appId, req.path.replace(/^\/+/, ''), options, req.deadline);
    },
    close() {
      agent.http.destroy();
      agent.https.destroy();
    },
  };
}

function parseBody(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text === '' || text === undefined) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function isErrorBody(value: unknown): value is { error_code: string | number } {
  return (
    typeof value === 'object' &&
    value !== null &&
    'error_code' in value &&
    (typeof value.error_code === 'string' || typeof value.error_code === 'number') &&
    String(value.error_code) !== ''
  );
}

function stringifyQuery(query: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) out[k] = String(v);
  return out;
}

/** got's errors carry the request options (headers with the token among them): keep only a code and a safe message. */
function classifyTransportError(err: unknown, setOutcome: (o: string) => void): PlatformError {
  if (err instanceof TimeoutError) {
    setOutcome('timeout');
    return new PlatformError('timeout', 'platform did not answer in time', {
      sent: err.timings?.upload !== undefined || err.event !== 'connect',
    });
  }
  const errno = err instanceof RequestError ? err.code : undefined;
  setOutcome(errno !== undefined && KNOWN_ERRNO.has(errno) ? errno : 'network');
  if (errno !== undefined && LOCAL.has(errno)) {
    return new PlatformError('local', `no socket to the platform could be opened (${errno})`, { sent: false, errno });
  }
  return new PlatformError('unavailable', `platform unreachable (${errno ?? 'network error'})`, {
    sent: errno === undefined || !NOT_SENT.has(errno),
    ...(errno ? { errno } : {}),
  });
}
