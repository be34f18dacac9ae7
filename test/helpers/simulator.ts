// Shared setup of the simulator's black-box tests: one simulator per suite, reset before each test, and the platform's client steps.
import { strict as assert } from 'node:assert';
import request from 'supertest';
import type { Test } from 'supertest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { toCompactUtc } from '../../src/simulator/time.js';

export const LOGIN = '/iocm/app/sec/v1.1.0/login';
export const REFRESH = '/iocm/app/sec/v1.1.0/refreshToken';
export const IODM = '/iodm/northbound/v1.5.0';

export interface Tokens {
  accessToken: string;
  tokenType: string;
  refreshToken: string;
  expiresIn: number;
  scope: string;
}

export const compact = (offsetMs: number): string => toCompactUtc(Date.now() + offsetMs);
export const MIN = 60_000;

/** Starts a simulator for the enclosing describe() (reset before each test) and returns the client steps. */
export function useSimulator() {
  let sim: RunningSimulator;
  const api = (): ReturnType<typeof request> => request(sim.url);
  before(async () => {
    sim = await startSimulator({ quiet: true });
  });
  after(() => sim.close());
  beforeEach(() => api().post('/__control/reset').expect(200));

  async function login(appId = 'demo-app', secret = 'demo-secret'): Promise<Tokens> {
    const res = await api().post(LOGIN).type('form').send({ appId, secret }).expect(200);
    return res.body as Tokens;
  }
  const authed = (t: Test, token: string, appId = 'demo-app'): Test =>
    t.set('app_key', appId).set('Authorization', `Bearer ${token}`);
  const control = (path: string, body: object): Test => api().post(`/__control${path}`).send(body).expect(200);
  const expectError = (res: request.Response, status: number, code: string): void => {
    assert.equal(res.status, status, `status for ${code}: ${res.text}`);
    assert.equal(res.body.error_code, code, res.text);
    assert.equal(typeof res.body.error_desc, 'string');
  };
  return { api, login, authed, control, expectError, url: () => sim.url };
}
