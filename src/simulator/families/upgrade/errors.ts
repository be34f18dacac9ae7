// The device-upgrade family's error codes as the platform answers them (platform-api.md §3, the SEED error table).
import type { PlatformError } from '../../errors.js';

export const UPGRADE_ERRORS = {
  '120015': { status: 400, desc: 'Bad request error.' },
  '123002': { status: 404, desc: 'Device or package file not found.' },
  '123016': { status: 400, desc: 'The parameter is error, targetversion not match with device.' },
  '123019': { status: 400, desc: 'manufacturerName is null.' },
  '123020': { status: 400, desc: 'deviceType is null' },
  '123021': { status: 400, desc: 'model is null.' },
  '123022': { status: 400, desc: 'deviceGroups and devices cannot be null together' },
  '123023': { status: 400, desc: 'deviceGroups and devices cannot be exist together' },
  '123024': { status: 400, desc: 'The number of deviceGroups or devices reached upper limit' },
  '123025': { status: 400, desc: 'executeType is error or can not to be null.' },
  '123026': { status: 400, desc: 'startTime or endTime is null or error.' },
  '123028': { status: 400, desc: 'retryTimes is null or beyond the limit.' },
  '123029': { status: 400, desc: 'pageNo or pageSize beyond the limit.' },
  '123032': { status: 400, desc: 'startTime can not be later than the endTime.' },
  '123033': { status: 400, desc: 'startTime can not be earlier than the now.' },
  '123034': { status: 400, desc: 'endtime must be greater than 5 minutes.' },
} as const satisfies Record<string, PlatformError>;
