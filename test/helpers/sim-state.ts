// Test-only: reach the state of a simulator started in this process, to register devices and bring them online until the devices part serves that.
import { commandSimulator } from '../../src/simulator/families/commands/router.js';
import type { DeviceStatus, SimDevice } from '../../src/simulator/families/devices/registry.js';
import type { SimulatorState } from '../../src/simulator/state.js';

let latest: SimulatorState | undefined;
let installed = false;

/**
 * Wraps the commands part's router factory, which every simulator start calls with its state, so that
 * the state of the last simulator started in this process can be read. Call before starting it.
 */
export function captureSimulatorState(): () => SimulatorState {
  if (!installed) {
    installed = true;
    const original = commandSimulator.router;
    Object.defineProperty(commandSimulator, 'router', {
      value: (state: SimulatorState) => {
        latest = state;
        return original(state);
      },
    });
  }
  return () => {
    if (latest === undefined) throw new Error('no simulator was started after captureSimulatorState()');
    return latest;
  };
}

let nodes = 0;

/** Registers a device of `appId` directly in the simulator's registry (INACTIVE until brought online). */
export function registerDevice(state: SimulatorState, appId: string, info: Record<string, unknown> = {}, status?: DeviceStatus): SimDevice {
  const device = state.appData(appId).devices.register({ nodeId: `node-${process.pid}-${++nodes}`, info });
  if (device === undefined) throw new Error('nodeId taken');
  if (status !== undefined) state.appData(appId).devices.setStatus(device.deviceId, status);
  return device;
}

export interface PlatformAnswer {
  status: number;
  body: any;
}

/** Calls the simulator as a northbound app does: one login, then `app_key` and the bearer token on every call. */
export async function platformClient(url: string, appId: string, secret: string) {
  const login = await fetch(`${url}/iocm/app/sec/v1.1.0/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ appId, secret }).toString(),
  });
  if (login.status !== 200) throw new Error(`login: ${login.status}`);
  const { accessToken } = (await login.json()) as { accessToken: string };
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<PlatformAnswer> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        app_key: appId,
        authorization: `Bearer ${accessToken}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  };
}
