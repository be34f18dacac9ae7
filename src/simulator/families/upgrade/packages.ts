// Version packages ("category"): the shape the platform returns and the deterministic set every app starts with.

export type FileType = 'softwarePackage' | 'firmwarePackage';

export interface CategoryInfo {
  fileId: string;
  name: string;
  version: string;
  fileType: FileType;
  deviceType: string;
  model: string;
  manufacturerName: string;
  protocolType: string;
  description: string;
  date: string;
  uploadTime: string;
}

// Fixed values (not "now") so that every run and every app lists exactly the same packages.
const SEED: readonly CategoryInfo[] = [
  {
    fileId: 'sw-pkg-0001',
    name: 'WM100_software_V1.0.2',
    version: 'V1.0.2',
    fileType: 'softwarePackage',
    deviceType: 'WaterMeter',
    model: 'WM100',
    manufacturerName: 'HydroTech',
    protocolType: 'CoAP',
    description: 'Water meter application software, metering fixes',
    date: '20240105T000000Z',
    uploadTime: '20240110T083000Z',
  },
  {
    fileId: 'sw-pkg-0002',
    name: 'WM100_software_V1.1.0',
    version: 'V1.1.0',
    fileType: 'softwarePackage',
    deviceType: 'WaterMeter',
    model: 'WM100',
    manufacturerName: 'HydroTech',
    protocolType: 'CoAP',
    description: 'Water meter application software, leak alarm',
    date: '20240301T000000Z',
    uploadTime: '20240305T101500Z',
  },
  {
    fileId: 'sw-pkg-0003',
    name: 'SD20_software_V2.0.1',
    version: 'V2.0.1',
    fileType: 'softwarePackage',
    deviceType: 'SmokeDetector',
    model: 'SD20',
    manufacturerName: 'SafeHome',
    protocolType: 'CoAP',
    description: 'Smoke detector application software',
    date: '20240412T000000Z',
    uploadTime: '20240415T140000Z',
  },
  {
    fileId: 'fw-pkg-0001',
    name: 'WM100_firmware_V1.0.5',
    version: 'V1.0.5',
    fileType: 'firmwarePackage',
    deviceType: 'WaterMeter',
    model: 'WM100',
    manufacturerName: 'HydroTech',
    protocolType: 'LWM2M',
    description: 'Water meter NB-IoT module firmware',
    date: '20240201T000000Z',
    uploadTime: '20240203T090000Z',
  },
  {
    fileId: 'fw-pkg-0002',
    name: 'SL7_firmware_V3.2.0',
    version: 'V3.2.0',
    fileType: 'firmwarePackage',
    deviceType: 'StreetLight',
    model: 'SL7',
    manufacturerName: 'LumenWorks',
    protocolType: 'LWM2M',
    description: 'Street light controller firmware',
    date: '20240520T000000Z',
    uploadTime: '20240522T163000Z',
  },
];

/** A fresh copy per app, so deleting a package in one app leaves the others alone. */
export function seedPackages(): Map<string, CategoryInfo> {
  return new Map(SEED.map((p) => [p.fileId, { ...p }]));
}
