// Test control API (/__control): reset, runtime config, latency, faults, token revocation, freezing, call log.
// Not a platform call: never throttled, never logged as one. With SIMULATOR_CONTROL_TOKEN set, every endpoint needs it
// (`X-Control-Token: <token>` or `Authorization: Bearer <token>`; otherwise 401); the call log never shows secrets or
// tokens (secrets as [redacted], tokens as redacted:<sha256 prefix>). Bad input → 400 {error}; unknown app → 404.
//   POST   /reset                 forget tokens, tasks, call log, faults, latency, frozen apps; re-seed; restore config
//   GET    /config                {ratePerMinute, windowMs, expiresIn}
//   POST   /config                same fields, each optional positive integer → the new config
//   GET    /latency               {latency: [{path, ms}]}
//   POST   /latency               {ms, path?} sets a delay ('' path = every call); {ms: 0} clears all, {ms: 0, path} that one
//   GET    /faults                {pending: FaultRule[]}
//   POST   /faults                {count, path?, appId?, method?, status?, errorCode?, errorDesc?, mode?} → {pending}
//   DELETE /faults                clears the fault queue
//   POST   /revoke                {appId} → the app's current access token answers 1010005 from now on
//   POST   /freeze                {appId, frozen} → login/refresh answer 400 100247 while frozen
//   GET    /calls[?since=epochMs] {total, byApp, byRoute, log}, redacted
//   DELETE /calls                 clears the call log and its counters (not the flow-control windows)
//   GET    /tokens/:appId         {current, issued}, never a token value
//   POST   /devices               {appId, nodeId, deviceInfo?} → 201 {deviceId, nodeId}: a device in the app's registry, as
//                                  registration would leave it, without a platform call (tests and demos that need devices
//                                  of their own: groups, upgrade tasks by group); a taken nodeId → 409
//   POST   /devices/:deviceId/data    {serviceId, data: {…}, serviceType?, eventTime?} → 204: the device (of whichever
//                                     app) reports one reading: history holds it, the device comes ONLINE if it was
//                                     not, and deviceDataChanged is pushed; unknown device → 404
//   POST   /devices/:deviceId/status  {status: ONLINE|OFFLINE|ABNORMAL} → 204 (coming ONLINE delivers pending commands)
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { deviceControlRouter } from './families/devices/control.js';
import { parseFaultRule } from './faults.js';
import type { SimulatorState } from './state.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const bad = (res: Response, message: string): void => void res.status(400).json({ error: message });

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** The token a caller presents: `X-Control-Token`, or `Authorization: Bearer …`. */
function presented(req: Request): string | undefined {
  const header = req.get('x-control-token');
  if (header !== undefined) return header;
  const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
  return m?.[1];
}

/**
 * Answers 401 unless the caller presents `token`. Both sides are hashed first, so that the comparison is
 * constant-time whatever the lengths (timingSafeEqual needs equal lengths, and a length check would leak one).
 */
export function requireControlToken(token: string): RequestHandler {
  const expected = digest(token);
  return (req, res, next) => {
    const given = presented(req);
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    res.setHeader('WWW-Authenticate', 'Bearer realm="simulator-control"');
    res.status(401).json({ error: 'control token required (X-Control-Token or Authorization: Bearer)' });
  };
}

export interface ControlOptions {
  /** SIMULATOR_CONTROL_TOKEN: when set, every control endpoint answers only callers presenting it. */
  token?: string;
}

export function controlRouter(state: SimulatorState, opts: ControlOptions = {}): Router {
  const r = express.Router();
  // First, before the body is even parsed: an unauthenticated caller gets nothing but the 401.
  if (opts.token !== undefined && opts.token !== '') r.use(requireControlToken(opts.token));
  r.use(express.json({ limit: '64kb', strict: false }));
  const secrets = (): string[] => [...state.apps.values()];
  const body = (req: Request): Record<string, unknown> => (isObject(req.body) ? req.body : {});

  /** Checks the appId of a body or path; answers 400/404 itself when it is missing or unknown. */
  const knownApp = (res: Response, appId: unknown): appId is string => {
    if (typeof appId !== 'string' || appId === '') {
      bad(res, 'appId must be a non-empty string');
      return false;
    }
    if (!state.apps.has(appId)) {
      res.status(404).json({ error: `unknown app ${appId}` });
      return false;
    }
    return true;
  };

  r.post('/reset', (_req, res) => {
    state.reset();
    res.json({ reset: true, config: state.config });
  });

  r.get('/config', (_req, res) => void res.json(state.config));
  r.post('/config', (req, res) => {
    const b = body(req);
    const next = { ...state.config };
    for (const key of ['ratePerMinute', 'windowMs', 'expiresIn'] as const) {
      if (b[key] === undefined) continue;
      if (!isPositiveInt(b[key])) return bad(res, `${key} must be a positive integer`);
      next[key] = b[key];
    }
    state.config = next;
    res.json(state.config);
  });

  r.get('/latency', (_req, res) => void res.json({ latency: state.latency.list() }));
  r.post('/latency', (req, res) => {
    const { ms, path } = body(req);
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return bad(res, 'ms must be a number >= 0');
    if (path !== undefined && typeof path !== 'string') return bad(res, 'path must be a string');
    state.latency.set(ms, path);
    res.json({ latency: state.latency.list() });
  });

  r.get('/faults', (_req, res) => void res.json({ pending: state.faults.pending() }));
  r.post('/faults', (req, res) => {
    const rule = parseFaultRule(req.body);
    if (typeof rule === 'string') return bad(res, rule);
    state.faults.add(rule);
    res.json({ pending: state.faults.pending() });
  });
  r.delete('/faults', (_req, res) => {
    state.faults.clear();
    res.json({ pending: [] });
  });

  r.post('/revoke', (req, res) => {
    const { appId } = body(req);
    if (!knownApp(res, appId)) return;
    state.tokens.revoke(appId);
    res.json({ appId, revoked: true });
  });

  r.post('/freeze', (req, res) => {
    const { appId, frozen } = body(req);
    if (!knownApp(res, appId)) return;
    if (typeof frozen !== 'boolean') return bad(res, 'frozen must be a boolean');
    if (frozen) state.frozen.add(appId);
    else state.frozen.delete(appId);
    res.json({ appId, frozen });
  });

  r.get('/calls', (req, res) => {
    const since = req.query.since;
    if (since === undefined) return void res.json(state.calls.summary(undefined, { secrets: secrets() }));
    if (typeof since !== 'string' || !/^\d+$/.test(since)) return bad(res, 'since must be epoch milliseconds');
    res.json(state.calls.summary(Number(since), { secrets: secrets() }));
  });
  // Clears only the log; tokens and the flow-control windows are left alone.
  r.delete('/calls', (_req, res) => {
    state.calls.clear();
    res.json({ cleared: true });
  });

  r.get('/tokens/:appId', (req, res) => {
    const appId = req.params.appId;
    if (!knownApp(res, appId)) return;
    res.json(state.tokens.status(appId, Date.now()));
  });

  r.post('/devices', (req, res) => {
    const { appId, nodeId, deviceInfo } = body(req);
    if (!knownApp(res, appId)) return;
    if (typeof nodeId !== 'string' || nodeId === '' || nodeId.length > 256) return bad(res, 'nodeId must be 1 to 256 characters');
    if (deviceInfo !== undefined && !isObject(deviceInfo)) return bad(res, 'deviceInfo must be an object');
    const device = state.appData(appId).devices.register({ nodeId, ...(deviceInfo !== undefined && { info: deviceInfo }) });
    if (device === undefined) return void res.status(409).json({ error: 'nodeId taken' });
    res.status(201).json({ deviceId: device.deviceId, nodeId: device.nodeId });
  });
  r.use('/devices', deviceControlRouter(state));

  r.use((_req, res) => void res.status(404).json({ error: 'no such control endpoint' }));
  // Malformed JSON bodies end up here (body-parser errors carry their status).
  r.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = isObject(err) && typeof err.status === 'number' && err.status < 500 ? err.status : 500;
    res.status(status).json({ error: status === 500 ? 'internal error' : 'invalid request body' });
  });
  return r;
}
