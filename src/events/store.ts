// The event store: one Redis Stream per app, appended atomically with its dedupe mark, capped by length and age, read back for SSE resume and retries.
import { createHash } from 'node:crypto';
// RedisClient: one server, a Sentinel set or a Cluster (issue 14); the alias keeps this file's annotations.
import type { RedisClient as Redis } from '../redis.js';
import { eventKeys, type EventKeys } from './keys.js';

/** One stored event, as delivered to webhooks and SSE clients. */
export interface StoredEvent {
  /** `<appId>:<stream entry id>`: unique across apps, so that a receiver serving several apps can dedupe on it alone. */
  id: string;
  appId: string;
  notifyType: string;
  /** ISO time at which Redis stored it (Redis' clock, the same for every replica). */
  receivedAt: string;
  /** The platform's body, as it was pushed (parsed). */
  data: unknown;
  /**
   * The platform's body as JSON text, byte for byte as it was received (raw-format webhooks deliver it unchanged);
   * the compact form of `data` when the push had to be rewritten (the gateway's callback URL removed).
   */
  raw: string;
}

export interface AppendResult {
  id: string;
  /** True when an identical body was stored within the dedupe window: nothing new was stored. */
  duplicate: boolean;
}

export interface EventStoreOptions {
  redis: Redis;
  keyPrefix: string;
  /** Stream cap by count (approximate, XADD MAXLEN ~). */
  maxLen?: number;
  /** Stream cap by age (approximate, XTRIM MINID ~). */
  maxAgeMs?: number;
  /** An identical body within this window is stored once. 0 turns dedupe off. */
  dedupeMs?: number;
}

export const DEFAULT_MAX_LEN = 100_000;
export const DEFAULT_MAX_AGE_MS = 24 * 3600_000;
export const DEFAULT_DEDUPE_MS = 10 * 60_000;

/**
 * One script so that the dedupe mark and the entry are written together: a push is either stored and
 * marked, or neither. Run twice (a client retry after a lost answer), the second run finds the mark
 * and returns the first id. The time comes from Redis, so that ids and ages agree across replicas.
 * KEYS: stream, dedupe key. ARGV: maxLen, maxAgeMs, dedupeMs, notifyType, body, channel, the body as received
 * ('' when it is the compact body itself: most pushes are, and the copy would double their memory).
 */
const APPEND_LUA = `
local prev = redis.call('GET', KEYS[2])
if prev then return {prev, 1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id
if ARGV[7] == '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[4], 'd', ARGV[5])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[4], 'd', ARGV[5], 'r', ARGV[7])
end
redis.call('XTRIM', KEYS[1], 'MINID', '~', tostring(now - tonumber(ARGV[2])))
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], id, 'PX', ARGV[3]) end
redis.call('PUBLISH', ARGV[6], id)
return {id, 0}`;

type ScriptRedis = Redis & {
  iotbffEventAppend(
    stream: string,
    dedupe: string,
    maxLen: number,
    maxAgeMs: number,
    dedupeMs: number,
    notifyType: string,
    body: string,
    channel: string,
    asReceived: string,
  ): Promise<[string, number]>;
};

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

export const toEventId = (appId: string, streamId: string): string => `${appId}:${streamId}`;

/** The stream entry id inside an event id of `appId`; undefined when it is not one of this app's ids. */
export function streamIdOf(appId: string, eventId: string): string | undefined {
  const at = eventId.lastIndexOf(':');
  if (at < 0 || eventId.slice(0, at) !== appId) return undefined;
  const sid = eventId.slice(at + 1);
  return STREAM_ID.test(sid) ? sid : undefined;
}

/** Builds the event from a raw stream entry (fields t = notifyType, d = compact body, r = the body as received when it differs). */
export function entryToEvent(appId: string, streamId: string, fields: string[]): StoredEvent {
  let notifyType = 'unknown';
  let raw = 'null';
  let asReceived: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 't') notifyType = fields[i + 1] as string;
    else if (fields[i] === 'd') raw = fields[i + 1] as string;
    else if (fields[i] === 'r') asReceived = fields[i + 1] as string;
  }
  let data: unknown = null;
  try {
    data = JSON.parse(raw);
  } catch {
    data = null; // never happens for entries we wrote: the callback stores only parsed JSON
  }
  const ms = Number(streamId.slice(0, streamId.indexOf('-')));
  return { id: toEventId(appId, streamId), appId, notifyType, receivedAt: new Date(ms).toISOString(), data, raw: asReceived ?? raw };
}

export type RawEntry = [string, string[]];

export class EventStore {
  readonly keys: EventKeys;
  private readonly redis: ScriptRedis;
  private readonly maxLen: number;
  private readonly maxAgeMs: number;
  private readonly dedupeMs: number;

  constructor(opts: EventStoreOptions) {
    this.redis = opts.redis as ScriptRedis;
    this.keys = eventKeys(opts.keyPrefix);
    this.maxLen = opts.maxLen ?? DEFAULT_MAX_LEN;
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.dedupeMs = opts.dedupeMs ?? DEFAULT_DEDUPE_MS;
    // defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT (a restarted or failed-over Redis).
    this.redis.defineCommand('iotbffEventAppend', { numberOfKeys: 2, lua: APPEND_LUA });
  }

  /**
   * Stores a push (compact JSON text, already checked to be a JSON object) and returns its event id. `asReceived`:
   * the body's text as the platform sent it, when that differs from `rawBody` (whitespace, number spellings, escapes).
   * Dedupe is on the compact form, so that a re-push laid out differently is still the same push.
   */
  async append(appId: string, notifyType: string, rawBody: string, asReceived?: string): Promise<AppendResult> {
    const sha = createHash('sha256').update(rawBody).digest('hex');
    const [streamId, dup] = await this.redis.iotbffEventAppend(
      this.keys.stream(appId),
      this.keys.dedupe(appId, sha),
      this.maxLen,
      this.maxAgeMs,
      this.dedupeMs,
      notifyType,
      rawBody,
      this.keys.channel(appId),
      asReceived !== undefined && asReceived !== rawBody ? asReceived : '',
    );
    return { id: toEventId(appId, streamId), duplicate: dup === 1 };
  }

  /** Up to `count` events after stream id `after` (exclusive; "0-0" = from the oldest kept). */
  async readAfter(appId: string, after: string, count: number): Promise<StoredEvent[]> {
    const start = after === '0-0' ? '-' : `(${after}`;
    const rows = (await this.redis.xrange(this.keys.stream(appId), start, '+', 'COUNT', count)) as RawEntry[];
    return rows.map(([sid, fields]) => entryToEvent(appId, sid, fields));
  }

  /** One event by stream id; null when trimmed away. */
  async get(appId: string, streamId: string): Promise<StoredEvent | null> {
    const rows = (await this.redis.xrange(this.keys.stream(appId), streamId, streamId)) as RawEntry[];
    const row = rows[0];
    return row ? entryToEvent(appId, row[0], row[1]) : null;
  }

  /** The newest stream id of the app ("0-0" when empty): where a live-only SSE client starts. */
  async lastId(appId: string): Promise<string> {
    const rows = (await this.redis.xrevrange(this.keys.stream(appId), '+', '-', 'COUNT', 1)) as RawEntry[];
    return rows[0]?.[0] ?? '0-0';
  }
}
