// Front door of every platform call: logs it, applies flow control, injected latency and injected faults, in that order.
import { STATUS_CODES } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { LOGIN_PATH, REFRESH_PATH } from './auth.js';
import { bodyForLog, isForm, parseJson, readRawBody, type RawBody } from './body.js';
import type { CallEntry } from './calllog.js';
import { isPlatformErrorCode, PLATFORM_ERRORS, sendErrorBody, sendPlatformError } from './errors.js';
import type { FaultRule } from './faults.js';
import type { SimulatorState } from './state.js';

/** Things that must not outlive the server: latency timers and hung responses. */
export class Lifecycle {
  private readonly timers = new Set<NodeJS.Timeout>();
  closed = false;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  /** Pending sleeps never resolve; their sockets are destroyed by the server's close. */
  shutdown(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

const normalise = (path: string): string => path.toLowerCase().replace(/\/+$/, '');

const headerText = (v: string | string[] | undefined): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;

/** Login and refresh belong to the app named in their body; everything else to its app_key header. */
function attributeApp(req: Request, body: RawBody): string | null {
  const path = normalise(req.path);
  if (path === normalise(LOGIN_PATH) || path === normalise(REFRESH_PATH)) {
    let claimed: unknown;
    if (isForm(req)) claimed = new URLSearchParams(body.text).get('appId');
    else {
      const parsed = parseJson(body);
      if (parsed.ok && typeof parsed.value === 'object' && parsed.value !== null) {
        claimed = (parsed.value as Record<string, unknown>).appId;
      }
    }
    if (typeof claimed === 'string' && claimed !== '') return claimed;
  }
  return headerText(req.headers.app_key) ?? null;
}

function loggedHeaders(req: Request): CallEntry['headers'] {
  const h: CallEntry['headers'] = {};
  const appKey = headerText(req.headers.app_key);
  if (appKey !== undefined) h.app_key = appKey;
  if (req.headers.authorization !== undefined) h.authorization = req.headers.authorization;
  if (req.headers['content-type'] !== undefined) h['content-type'] = req.headers['content-type'];
  return h;
}

export function platformGate(state: SimulatorState, lifecycle: Lifecycle): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    // The arrival instant is what the quota counts, not the moment after injected latency.
    const arrivedAt = Date.now();
    const body = await readRawBody(req);
    res.locals.rawBody = body;
    const appId = attributeApp(req, body);
    const entry: CallEntry = {
      at: arrivedAt,
      method: req.method,
      path: req.path,
      query: { ...(req.query as Record<string, unknown>) },
      appId,
      status: 0,
      headers: loggedHeaders(req),
      body: bodyForLog(req, body),
    };
    state.calls.add(entry, body.tooLarge ? 0 : Math.min(body.bytes, 16 * 1024));
    res.on('finish', () => {
      entry.status = res.statusCode;
      if (typeof res.locals.errorCode === 'string') entry.errorCode = res.locals.errorCode;
    });

    // Unknown apps are never throttled: the platform cannot attribute their calls to a quota.
    const { ratePerMinute, windowMs } = state.config;
    const allowed = !state.isKnownApp(appId) || state.limiter.tryAcquire(appId, arrivedAt, ratePerMinute, windowMs);
    // Throttled calls do not consume fault rules, so a rule always hits a call that reached the "platform".
    const fault = allowed ? state.faults.take({ method: req.method, path: req.path, appId }) : undefined;
    if (fault) entry.fault = fault.mode;

    const delay = state.latency.delayFor(req.path);
    if (delay > 0) await lifecycle.sleep(delay);
    if (lifecycle.closed) return;

    if (!allowed) return sendPlatformError(res, '1010009');
    if (fault) return applyFault(fault, req, res);
    next();
  };
}

function applyFault(rule: FaultRule, req: Request, res: Response): void {
  switch (rule.mode) {
    case 'hang':
      // Deliberately no answer; the socket stays open until the client gives up or the server closes.
      return;
    case 'reset':
      req.socket.destroy();
      return;
    case 'garbage':
      // What a misconfigured proxy in front of the platform might send: 200 with an HTML page.
      res.status(200).type('text/html').send('<html><body><h1>Service temporarily unavailable</h1></body></html>');
      return;
    case 'error': {
      const status = rule.status ?? 500;
      if (rule.errorCode !== undefined) {
        const known = isPlatformErrorCode(rule.errorCode) ? PLATFORM_ERRORS[rule.errorCode].desc : 'Injected fault.';
        sendErrorBody(res, status, rule.errorCode, rule.errorDesc ?? known);
      } else {
        // Without a code, mimic an intermediary's bare error page: plain text, no error_code.
        res.status(status).type('text/plain').send(STATUS_CODES[status] ?? 'Error');
      }
      return;
    }
  }
}
