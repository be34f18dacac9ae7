// The data family's Joi schemas (platform-api.md §5.7–§5.8, §10): a device's history and its capabilities.
import Joi from 'joi';
import { withPlatformCodes as codes } from '../../routes/validate.js';
import { INT_MAX, text } from '../common/schema.js';
import { windowEnd, windowStart } from '../common/window.js';
import { DATA_INVALID } from './codes.js';

// deviceId comes from the gateway's path (queryFromPath): it is not a query key here.

/**
 * History (§5.7). Its error table was not retrieved, so refusals carry no platform code. gatewayId is
 * mandatory at the platform (= deviceId for a directly connected device) and is required here too, rather
 * than guessed: for a device behind a gateway the deviceId would be the wrong value.
 */
export const historyQuery = Joi.object({
  gatewayId: text(256).required(),
  serviceId: text(256),
  property: text(256),
  pageNo: Joi.number().integer().min(0).max(INT_MAX),
  // The platform's range is not documented [?]: any positive page size is let through and the platform judges.
  pageSize: Joi.number().integer().min(1).max(INT_MAX),
  startTime: windowStart(),
  endTime: windowEnd(),
}).unknown(false);

/** Capabilities (§5.8): 100022 is the API's documented input error. gatewayId is optional here [?]. */
export const capabilitiesQuery = Joi.object({
  gatewayId: codes(text(256), DATA_INVALID),
}).unknown(false);
