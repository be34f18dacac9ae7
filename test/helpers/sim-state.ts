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
