// Secure application access: form-encoded login, JSON refresh, and the token check every other platform call passes.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { isForm, isJsonOrUntyped, parseJson, rawBody } from './body.js';
import { sendPlatformError } from './errors.js';
import type { SimulatorState } from './state.js';
import type { IssuedTokens } from './tokens.js';

export const LOGIN_PATH = '/iocm/app/sec/v1.1.0/login';
export const REFRESH_PATH = '/iocm/app/sec/v1.1.0/refreshToken';

const tokenBody = (t: IssuedTokens): Record<string, unknown> => ({
  accessToken: t.accessToken,
  tokenType: 'bearer',
  refreshToken: t.refreshToken,
  expiresIn: t.expiresIn,
  scope: 'default',
});

export function login(state: SimulatorState): RequestHandler {
  return (req: Request, res: Response): void => {
    // Every Huawei SDK posts a form; a JSON login is answered like a request with the fields missing.
    const body = rawBody(res);
    if (!isForm(req) || body.tooLarge) return sendPlatformError(res, '102202');
    const form = new URLSearchParams(body.text);
    const appId = form.get('appId');
    const secret = form.get('secret');
    if (!appId || !secret) return sendPlatformError(res, '102202');
    if (state.apps.get(appId) !== secret) return sendPlatformError(res, '100208');
    if (state.frozen.has(appId)) return sendPlatformError(res, '100247');
    res.status(200).json(tokenBody(state.tokens.issue(appId, state.config.expiresIn, Date.now())));
  };
}

export function refresh(state: SimulatorState): RequestHandler {
  return (req: Request, res: Response): void => {
    const parsed = isJsonOrUntyped(req) ? parseJson(rawBody(res)) : { ok: false as const };
    if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
      return sendPlatformError(res, '50400');
    }
    const { appId, secret, refreshToken } = parsed.value as Record<string, unknown>;
    const fields = [appId, secret, refreshToken];
    if (fields.some((f) => f === undefined || f === null || f === '')) return sendPlatformError(res, '102202');
    if (typeof appId !== 'string' || typeof secret !== 'string' || typeof refreshToken !== 'string') {
      return sendPlatformError(res, '50400');
    }
    if (state.apps.get(appId) !== secret) return sendPlatformError(res, '100208');
    if (state.frozen.has(appId)) return sendPlatformError(res, '100247');
    const now = Date.now();
    if (!state.tokens.isValidRefresh(appId, refreshToken, now)) return sendPlatformError(res, '100208');
    res.status(200).json(tokenBody(state.tokens.issue(appId, state.config.expiresIn, now)));
  };
}

// The scheme is matched case-insensitively: clients build it from tokenType, which the platform sends as "bearer".
const BEARER = /^bearer\s+(\S+)\s*$/i;

/** Sets res.locals.appId for the handlers behind it. */
export function requireToken(state: SimulatorState): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const appKey = req.headers.app_key;
    if (typeof appKey !== 'string' || appKey === '') return sendPlatformError(res, '100025');
    const token = BEARER.exec(req.headers.authorization ?? '')?.[1];
    if (token === undefined || !state.tokens.isValidAccess(appKey, token, Date.now())) {
      return sendPlatformError(res, '1010005');
    }
    res.locals.appId = appKey;
    next();
  };
}
