// Turns the simulator's environment variables into startSimulator() options, collecting every problem at once.
import { readFileSync } from 'node:fs';
import type { SimulatorApp, SimulatorOptions } from './server.js';

export interface SimulatorSettings {
  port: number;
  host: string;
  options: SimulatorOptions;
}

export type SettingsResult = { ok: true; settings: SimulatorSettings } | { ok: false; errors: string[] };

type Env = Record<string, string | undefined>;
type ReadFile = (path: string) => Buffer;

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

export function settingsFromEnv(env: Env, readFile: ReadFile = readFileSync): SettingsResult {
  const errors: string[] = [];

  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (!set(raw)) return fallback;
    const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      errors.push(`${name} must be an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'any' : max}`);
      return fallback;
    }
    return n;
  };

  const file = (name: string): Buffer | undefined => {
    const path = env[name];
    if (!set(path)) return undefined;
    try {
      return readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'read error';
      errors.push(`${name}: cannot read ${path} (${code})`);
      return undefined;
    }
  };

  const port = int('SIMULATOR_PORT', 8743, 0, 65535);
  const host = set(env.SIMULATOR_HOST) ? env.SIMULATOR_HOST.trim() : '0.0.0.0';
  const ratePerMinute = int('SIMULATOR_RATE_PER_MINUTE', 100, 1);
  const windowMs = int('SIMULATOR_WINDOW_MS', 60_000, 1);
  const expiresIn = int('SIMULATOR_EXPIRES_IN', 3600, 1);
  const apps = parseApps(env, readFile, errors);

  const cert = file('SIMULATOR_TLS_CERT_FILE');
  const key = file('SIMULATOR_TLS_KEY_FILE');
  const ca = file('SIMULATOR_TLS_CA_FILE');
  if (set(env.SIMULATOR_TLS_CERT_FILE) !== set(env.SIMULATOR_TLS_KEY_FILE)) {
    errors.push('SIMULATOR_TLS_CERT_FILE and SIMULATOR_TLS_KEY_FILE must be given together');
  }
  if (set(env.SIMULATOR_TLS_CA_FILE) && !set(env.SIMULATOR_TLS_CERT_FILE)) {
    errors.push('SIMULATOR_TLS_CA_FILE needs SIMULATOR_TLS_CERT_FILE and SIMULATOR_TLS_KEY_FILE (client certs need HTTPS)');
  }

  // Any non-blank text; too short a token is refused rather than silently weak.
  const controlToken = set(env.SIMULATOR_CONTROL_TOKEN) ? env.SIMULATOR_CONTROL_TOKEN.trim() : undefined;
  if (controlToken !== undefined && controlToken.length < 16) errors.push('SIMULATOR_CONTROL_TOKEN must be at least 16 characters');

  if (errors.length > 0) return { ok: false, errors };
  const options: SimulatorOptions = { ratePerMinute, windowMs, expiresIn };
  if (controlToken !== undefined) options.controlToken = controlToken;
  if (apps) options.apps = apps;
  if (cert && key) options.tls = { cert, key, ...(ca && { ca }) };
  return { ok: true, settings: { port, host, options } };
}

/** PLATFORM_APPS (or, as for the gateway's Docker secrets, PLATFORM_APPS_FILE); undefined = demo apps. */
function parseApps(env: Env, readFile: ReadFile, errors: string[]): SimulatorApp[] | undefined {
  let raw = env.PLATFORM_APPS;
  let source = 'PLATFORM_APPS';
  if (!set(raw) && set(env.PLATFORM_APPS_FILE)) {
    source = 'PLATFORM_APPS_FILE';
    try {
      raw = readFile(env.PLATFORM_APPS_FILE).toString('utf8');
    } catch (err) {
      errors.push(`PLATFORM_APPS_FILE: cannot read ${env.PLATFORM_APPS_FILE} (${(err as NodeJS.ErrnoException).code})`);
      return undefined;
    }
  }
  if (!set(raw)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    errors.push(`${source} is not valid JSON (expected [{"appId":"…","secret":"…"}])`);
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    errors.push(`${source} must be a non-empty JSON array of {"appId","secret"}`);
    return undefined;
  }
  const apps: SimulatorApp[] = [];
  const seen = new Set<string>();
  parsed.forEach((item: unknown, i) => {
    const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    // Never echo the secret itself in the message.
    if (typeof o.appId !== 'string' || o.appId === '') errors.push(`${source}[${i}].appId must be a non-empty string`);
    else if (typeof o.secret !== 'string' || o.secret === '') {
      errors.push(`${source}[${i}].secret must be a non-empty string`);
    } else if (seen.has(o.appId)) errors.push(`${source}[${i}].appId "${o.appId}" is listed twice`);
    else {
      seen.add(o.appId);
      apps.push({ appId: o.appId, secret: o.secret });
    }
  });
  return apps;
}
