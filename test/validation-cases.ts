// The validation table, as data: requests the gateway must refuse (with the platform's codes) and ones it must let through.
// Free of test-framework code, so that it can be run against validateRequest and against the live gateway alike.

export interface ValidationCase {
  name: string;
  /** RouteSpec id. */
  route: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  /** Every platformCode expected in `details`, order-insensitive, repeated as often as it occurs. */
  platformCodes: string[];
  /** Every `field` expected in `details`, order-insensitive, when given. */
  fields?: string[];
  /**
   * True when the request cannot be sent over HTTP as such, so only validateRequest can be asked: an empty
   * path segment makes another URL (`/packages/` is the package list).
   */
  directOnly?: true;
  /**
   * True when the only failures are rules JSON Schema cannot express (times relative to now, calendar
   * days), so that /openapi.json's schemas accept the request although the gateway refuses it.
   */
  beyondJsonSchema?: true;
}

export interface ValidCase {
  name: string;
  route: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
}

const SW = 'createSoftwareUpgradeTask';
const FW = 'createFirmwareUpgradeTask';

const devices = (n: number) => Array.from({ length: n }, (_, i) => `dev-${i}`);
const groups = (n: number) => Array.from({ length: n }, (_, i) => `group-${i}`);
const task = (fields: Record<string, unknown>) => ({ fileId: 'pkg-1', targets: { devices: ['dev-1'] }, ...fields });
// The valid requests name packages the simulator knows (src/simulator/packages.ts), so that they also
// succeed end to end; the invalid ones never get that far.
const groupTargets = { deviceGroups: ['g1'], deviceType: 'WaterMeter', model: 'WM100', manufacturerName: 'HydroTech' };
const swTask = (fields: Record<string, unknown>) => task({ fileId: 'sw-pkg-0001', ...fields });
const fwTask = (fields: Record<string, unknown>) => task({ fileId: 'fw-pkg-0001', ...fields });
/** A custom window; far enough ahead that the table stays valid without a clock (until 2099). */
const custom = (startTime: string, endTime: string, more: Record<string, unknown> = {}) => ({
  policy: { executeType: 'custom', startTime, endTime, ...more },
});

// Path parameters that must never reach the platform: each would change, or try to change, the path called.
const badIds: Array<[string, string]> = [
  ['dot-dot', '..'],
  ['a traversal', '../../iocm/app/sec/v1.1.0/login'],
  ['an encoded slash', 'a%2Fb'],
  ['a slash', 'a/b'],
  ['a space', 'a b'],
  ['unicode', 'pkg-ü'],
  ['an empty string', ''],
  ['129 characters', 'a'.repeat(129)],
  ['a leading dot', '.hidden'],
  ['a query string', 'abc?x=1'],
  ['a fragment', 'abc#x'],
  ['a backslash', 'a\\b'],
  ['a NUL byte', 'a\u0000b'],
  ['a newline', 'a\nb'],
];

export const validationCases: ValidationCase[] = [
  // ---- path parameters ----
  ...(['getPackage', 'deletePackage', 'getUpgradeTask'] as const).flatMap((route) =>
    badIds.map(([what, id]): ValidationCase => {
      const name = route === 'getUpgradeTask' ? 'operationId' : 'fileId';
      return {
        name: `${route}: ${name} with ${what}`,
        route,
        params: { [name]: id },
        platformCodes: [],
        fields: [name],
        ...(id === '' ? { directOnly: true as const } : {}),
      };
    }),
  ),
  {
    name: 'listUpgradeSubtasks: operationId with dot-dot, and a bad pageSize at once',
    route: 'listUpgradeSubtasks',
    params: { operationId: '..' },
    query: { pageSize: '0' },
    platformCodes: ['123029'],
    fields: ['operationId', 'pageSize'],
  },

  // ---- create task: fileId ----
  { name: 'fileId missing', route: SW, body: { targets: { devices: ['dev-1'] } }, platformCodes: ['120015'], fields: ['fileId'] },
  { name: 'fileId not a string', route: SW, body: task({ fileId: 42 }), platformCodes: ['120015'], fields: ['fileId'] },
  { name: 'fileId empty', route: FW, body: task({ fileId: '' }), platformCodes: ['120015'], fields: ['fileId'] },
  { name: 'fileId too long', route: SW, body: task({ fileId: 'f'.repeat(257) }), platformCodes: ['120015'], fields: ['fileId'] },
  {
    name: 'no body at all',
    route: SW,
    platformCodes: ['120015', '123022'],
    fields: ['fileId', 'targets'],
  },
  { name: 'an empty body', route: FW, body: {}, platformCodes: ['120015', '123022'], fields: ['fileId', 'targets'] },
  { name: 'body is an array', route: FW, body: [task({})], platformCodes: ['120015'], fields: ['body'] },

  // ---- create task: targets ----
  { name: 'targets missing', route: SW, body: { fileId: 'pkg-1' }, platformCodes: ['123022'], fields: ['targets'] },
  { name: 'targets empty', route: SW, body: task({ targets: {} }), platformCodes: ['123022'], fields: ['targets'] },
  {
    name: 'targets.devices empty',
    route: FW,
    body: task({ targets: { devices: [] } }),
    platformCodes: ['123022'],
    fields: ['targets.devices'],
  },
  {
    name: 'devices and deviceGroups both given',
    route: SW,
    body: task({ targets: { devices: ['dev-1'], ...groupTargets } }),
    platformCodes: ['123023'],
    fields: ['targets'],
  },
  {
    name: 'devices and deviceGroups both given (firmware)',
    route: FW,
    body: task({ targets: { devices: ['dev-1'], ...groupTargets } }),
    platformCodes: ['123023'],
    fields: ['targets'],
  },
  {
    name: '257 devices',
    route: SW,
    body: task({ targets: { devices: devices(257) } }),
    platformCodes: ['123024'],
    fields: ['targets.devices'],
  },
  {
    name: '257 device groups',
    route: FW,
    body: task({ targets: { ...groupTargets, deviceGroups: groups(257) } }),
    platformCodes: ['123024'],
    fields: ['targets.deviceGroups'],
  },
  {
    name: 'a device ID that is not a string',
    route: SW,
    body: task({ targets: { devices: ['dev-1', 7] } }),
    platformCodes: ['120015'],
    fields: ['targets.devices[1]'],
  },
  {
    name: 'devices not an array',
    route: SW,
    body: task({ targets: { devices: 'dev-1' } }),
    platformCodes: ['120015'],
    fields: ['targets.devices'],
  },
  {
    name: 'device groups without deviceType, model and manufacturerName',
    route: SW,
    body: task({ targets: { deviceGroups: ['g1'] } }),
    platformCodes: ['123019', '123020', '123021'],
    fields: ['targets.deviceType', 'targets.model', 'targets.manufacturerName'],
  },
  {
    name: 'device groups without deviceType',
    route: FW,
    body: task({ targets: { ...groupTargets, deviceType: undefined } }),
    platformCodes: ['123020'],
    fields: ['targets.deviceType'],
  },
  {
    name: 'device groups with a blank model',
    route: SW,
    body: task({ targets: { ...groupTargets, model: '   ' } }),
    platformCodes: ['123021'],
    fields: ['targets.model'],
  },
  {
    name: 'device groups with an empty manufacturerName',
    route: SW,
    body: task({ targets: { ...groupTargets, manufacturerName: '' } }),
    platformCodes: ['123019'],
    fields: ['targets.manufacturerName'],
  },

  // ---- create task: policy ----
  { name: 'policy without executeType', route: SW, body: task({ policy: {} }), platformCodes: ['123025'], fields: ['policy.executeType'] },
  {
    name: 'policy with an unknown executeType',
    route: FW,
    body: task({ policy: { executeType: 'later' } }),
    platformCodes: ['123025'],
    fields: ['policy.executeType'],
  },
  { name: 'policy not an object', route: SW, body: task({ policy: 'now' }), platformCodes: ['120015'], fields: ['policy'] },
  {
    name: 'custom without startTime and endTime',
    route: SW,
    body: task({ policy: { executeType: 'custom' } }),
    platformCodes: ['123026', '123026'],
    fields: ['policy.startTime', 'policy.endTime'],
  },
  {
    name: 'custom with an ISO-8601 extended startTime',
    route: SW,
    body: task(custom('2099-01-01T00:00:00Z', '20990101T010000Z')),
    platformCodes: ['123026'],
    fields: ['policy.startTime'],
  },
  {
    name: 'custom with month 13',
    route: FW,
    body: task(custom('20990101T000000Z', '20991301T000000Z')),
    platformCodes: ['123026'],
    fields: ['policy.endTime'],
  },
  {
    name: 'custom with 30 February',
    route: SW,
    body: task(custom('20990101T000000Z', '20990230T000000Z')),
    platformCodes: ['123026'],
    fields: ['policy.endTime'],
    beyondJsonSchema: true,
  },
  {
    name: 'retryType true without retryTimes',
    route: SW,
    body: task({ policy: { executeType: 'now', retryType: true } }),
    platformCodes: ['123028'],
    fields: ['policy.retryTimes'],
  },
  {
    name: 'retryTimes 6',
    route: FW,
    body: task({ policy: { executeType: 'now', retryType: true, retryTimes: 6 } }),
    platformCodes: ['123028'],
    fields: ['policy.retryTimes'],
  },
  {
    name: 'retryTimes 0',
    route: SW,
    body: task({ policy: { executeType: 'now', retryType: true, retryTimes: 0 } }),
    platformCodes: ['123028'],
    fields: ['policy.retryTimes'],
  },
  {
    name: 'retryTimes 2.5',
    route: SW,
    body: task({ policy: { executeType: 'now', retryType: true, retryTimes: 2.5 } }),
    platformCodes: ['123028'],
    fields: ['policy.retryTimes'],
  },
  {
    name: 'retryType as the string "true"',
    route: SW,
    body: task({ policy: { executeType: 'now', retryType: 'true', retryTimes: 2 } }),
    platformCodes: ['120015'],
    fields: ['policy.retryType'],
  },
  {
    name: 'startTime after endTime',
    route: SW,
    body: task(custom('20990101T020000Z', '20990101T010000Z')),
    platformCodes: ['123032'],
    fields: ['policy.startTime'],
    beyondJsonSchema: true,
  },
  {
    name: 'startTime equal to endTime',
    route: FW,
    body: task(custom('20990101T010000Z', '20990101T010000Z')),
    platformCodes: ['123032'],
    fields: ['policy.startTime'],
    beyondJsonSchema: true,
  },
  {
    name: 'startTime in the past',
    route: SW,
    body: task(custom('20200101T000000Z', '20200101T010000Z')),
    platformCodes: ['123033'],
    fields: ['policy.startTime'],
    beyondJsonSchema: true,
  },
  {
    name: 'a window of exactly 5 minutes',
    route: SW,
    body: task(custom('20990101T000000Z', '20990101T000500Z')),
    platformCodes: ['123034'],
    fields: ['policy.endTime'],
    beyondJsonSchema: true,
  },
  {
    name: 'a window of 1 minute',
    route: FW,
    body: task(custom('20990101T000000Z', '20990101T000100Z')),
    platformCodes: ['123034'],
    fields: ['policy.endTime'],
    beyondJsonSchema: true,
  },

  // ---- unknown keys ----
  {
    name: 'an unknown top-level key (policy misspelt)',
    route: SW,
    body: task({ polcy: { executeType: 'now' } }),
    platformCodes: [],
    fields: ['polcy'],
  },
  {
    name: 'an unknown key in targets',
    route: SW,
    body: task({ targets: { devices: ['dev-1'], device: 'dev-2' } }),
    platformCodes: [],
    fields: ['targets.device'],
  },
  {
    name: 'an unknown key in policy',
    route: FW,
    body: task({ policy: { executeType: 'now', retries: 3 } }),
    platformCodes: [],
    fields: ['policy.retries'],
  },

  // ---- many failures at once ----
  {
    name: 'every part wrong at once',
    route: SW,
    body: {
      targets: { devices: ['dev-1'], deviceGroups: ['g1'] },
      policy: { executeType: 'sometimes', retryType: true },
      extra: true,
    },
    platformCodes: ['120015', '123019', '123020', '123021', '123023', '123025', '123028'],
    fields: [
      'fileId',
      'targets.deviceType',
      'targets.model',
      'targets.manufacturerName',
      'targets',
      'policy.executeType',
      'policy.retryTimes',
      'extra',
    ],
  },
  {
    name: 'a custom window in the past and too short, with retryTimes out of range',
    route: FW,
    body: task(custom('20200101T000000Z', '20200101T000200Z', { retryType: true, retryTimes: 9 })),
    platformCodes: ['123033', '123034', '123028'],
    fields: ['policy.startTime', 'policy.endTime', 'policy.retryTimes'],
  },

  // ---- lists ----
  { name: 'packages: pageNo -1', route: 'listPackages', query: { pageNo: '-1' }, platformCodes: ['123029'], fields: ['pageNo'] },
  { name: 'packages: pageSize 0', route: 'listPackages', query: { pageSize: '0' }, platformCodes: ['123029'], fields: ['pageSize'] },
  { name: 'packages: pageSize 101', route: 'listPackages', query: { pageSize: '101' }, platformCodes: ['123029'], fields: ['pageSize'] },
  { name: 'packages: pageSize not a number', route: 'listPackages', query: { pageSize: 'ten' }, platformCodes: ['120015'], fields: ['pageSize'] },
  { name: 'packages: pageNo 1.5', route: 'listPackages', query: { pageNo: '1.5' }, platformCodes: ['120015'], fields: ['pageNo'] },
  {
    name: 'packages: an unknown fileType',
    route: 'listPackages',
    query: { fileType: 'anyPackage' },
    platformCodes: ['120015'],
    fields: ['fileType'],
  },
  {
    name: 'packages: a misspelt query key',
    route: 'listPackages',
    query: { pagesize: '10' },
    platformCodes: [],
    fields: ['pagesize'],
  },
  {
    name: 'packages: a model of 257 characters',
    route: 'listPackages',
    query: { model: 'm'.repeat(257) },
    platformCodes: ['120015'],
    fields: ['model'],
  },
  {
    name: 'tasks: pageNo and pageSize both out of range, and a bad status',
    route: 'listUpgradeTasks',
    query: { pageNo: '-5', pageSize: '1000', operationStatus: 'done' },
    platformCodes: ['123029', '123029', '120015'],
    fields: ['pageNo', 'pageSize', 'operationStatus'],
  },
  {
    name: 'tasks: an unknown operationType',
    route: 'listUpgradeTasks',
    query: { operationType: 'hardware_upgrade' },
    platformCodes: ['120015'],
    fields: ['operationType'],
  },
  {
    name: 'subtasks: pageSize 0',
    route: 'listUpgradeSubtasks',
    params: { operationId: 'op-1' },
    query: { pageSize: '0' },
    platformCodes: ['123029'],
    fields: ['pageSize'],
  },
  {
    name: 'subtasks: an unknown subOperationStatus',
    route: 'listUpgradeSubtasks',
    params: { operationId: 'op-1' },
    query: { subOperationStatus: 'broken' },
    platformCodes: ['120015'],
    fields: ['subOperationStatus'],
  },
  {
    name: 'a query parameter on a route that takes none',
    route: 'getUpgradeTask',
    params: { operationId: 'op-1' },
    query: { verbose: 'true' },
    platformCodes: [],
    fields: ['verbose'],
  },
];

/** Formats a Date the platform's way: yyyyMMdd'T'HHmmss'Z'. */
export const compactUtc = (date: Date): string => date.toISOString().replace(/\.\d{3}/, '').replace(/[-:]/g, '');

/** Requests that must pass. Times are relative to `now`, far enough ahead to survive a slow test run. */
export function validOnes(now: Date = new Date()): ValidCase[] {
  const at = (minutes: number) => compactUtc(new Date(now.getTime() + minutes * 60_000));
  return [
    { name: 'packages: no query', route: 'listPackages' },
    {
      name: 'packages: every filter',
      route: 'listPackages',
      query: {
        fileType: 'softwarePackage',
        deviceType: 'WaterMeter',
        model: 'WM100',
        manufacturerName: 'HydroTech',
        version: 'V1.0.2',
        pageNo: '0',
        pageSize: '100',
      },
    },
    { name: 'packages: pageSize 1', route: 'listPackages', query: { fileType: 'firmwarePackage', pageNo: '7', pageSize: '1' } },
    { name: 'package: a plain fileId', route: 'getPackage', params: { fileId: 'sw-pkg-0001' } },
    { name: 'package: every allowed character', route: 'getPackage', params: { fileId: 'A9_z.-x' } },
    { name: 'package: a fileId of 128 characters', route: 'deletePackage', params: { fileId: `p${'x'.repeat(127)}` } },
    { name: 'software task: one device, no policy', route: SW, body: swTask({}) },
    { name: 'firmware task: one device, policy now', route: FW, body: fwTask({ policy: { executeType: 'now' } }) },
    { name: 'software task: 256 devices', route: SW, body: swTask({ targets: { devices: devices(256) } }) },
    { name: 'firmware task: 256 device groups', route: FW, body: fwTask({ targets: { ...groupTargets, deviceGroups: groups(256) } }) },
    {
      name: 'software task: device groups with retries',
      route: SW,
      body: swTask({ targets: groupTargets, policy: { executeType: 'now', retryType: true, retryTimes: 5 } }),
    },
    {
      name: 'software task: a custom window starting in 10 minutes',
      route: SW,
      body: swTask({ policy: { executeType: 'custom', startTime: at(10), endTime: at(70), retryType: true, retryTimes: 1 } }),
    },
    {
      name: 'firmware task: a custom window of 6 minutes',
      route: FW,
      body: fwTask({ policy: { executeType: 'custom', startTime: at(30), endTime: at(36), retryType: false } }),
    },
    {
      name: 'tasks: every filter',
      route: 'listUpgradeTasks',
      query: {
        operationType: 'firmware_upgrade',
        operationStatus: 'failed',
        deviceType: 'WaterMeter',
        model: 'WM100',
        manufacturerName: 'HydroTech',
        deviceId: 'dev-1',
        pageNo: '2',
        pageSize: '50',
      },
    },
    { name: 'task: a plain operationId', route: 'getUpgradeTask', params: { operationId: 'op-1' } },
    {
      name: 'subtasks: status fail, first page',
      route: 'listUpgradeSubtasks',
      params: { operationId: 'op-1' },
      query: { subOperationStatus: 'fail', pageNo: '0', pageSize: '10' },
    },
  ];
}
