// The commands family's Joi schemas (platform-api.md §4, §10): bodies and queries, every failure with the platform's 100022.
import Joi from 'joi';
import { withPlatformCodes as codes } from '../../routes/validate.js';
import { commandCallbackUrl, commandDto } from '../common/command.js';
import { compactUtc, INT_MAX, instantOf, text } from '../common/schema.js';
import { INVALID } from './codes.js';

// Every command API documents one input-error code, 100022, for every malformed field (§4.1–§4.3); the
// cancel-task APIs' table was not retrieved (§4.4 [?]) and is assumed to be the same.
const invalid = <T extends Joi.Schema>(schema: T): T => codes(schema, INVALID);

const deviceId = () => invalid(text(64));

// pageNo ≥ 0 (default 0), pageSize 1–1000 (default 1000) on both lists (§4.2, §4.5, §10). The 100022
// remark of §4.2 ("pageNo > 0, pageSize > 1") contradicts the documented defaults and looks copied from
// another API [?]: the documented ranges are enforced, so that the defaults themselves are never refused.
const paging = {
  pageNo: invalid(Joi.number().integer().min(0).max(INT_MAX)),
  pageSize: invalid(Joi.number().integer().min(1).max(1000)),
};

/**
 * startTime/endTime: compact UTC, each optional. When both are given the end must be after the start: the
 * 100022 remark of §4.2 says so, and a reversed window can only answer an empty list. Either alone is
 * accepted (the same remark says "both must be set", but the parameter table marks each optional [?]:
 * the gateway never refuses what the table allows).
 */
const timeWindow = {
  startTime: invalid(compactUtc()),
  endTime: invalid(
    compactUtc().custom((value: string, helpers) => {
      const parent = (helpers.state.ancestors as unknown[] | undefined)?.[0] as { startTime?: unknown } | undefined;
      const [start, end] = [instantOf(parent?.startTime), instantOf(value)];
      return start !== undefined && end !== undefined && end <= start ? helpers.error('rule.endNotAfterStart') : value;
    }, 'after startTime'),
  ),
};

/** Create device command (§4.1, DeviceCommandReq). `appId` (query) is the gateway's: see routes.ts. */
export const createCommandBody = invalid(
  Joi.object({
    deviceId: deviceId().required(),
    command: commandDto(INVALID).required(),
    callbackUrl: commandCallbackUrl(INVALID),
    // 0 = send at once whatever the device's state; > 0 = cached up to that many seconds (default 48 h).
    expireTime: invalid(Joi.number().integer().min(0).max(INT_MAX)),
    maxRetransmit: invalid(Joi.number().integer().min(0).max(3)),
  }).unknown(false),
);

export const listCommandsQuery = Joi.object({
  ...paging,
  deviceId: deviceId(),
  ...timeWindow,
}).unknown(false);

/** Modify a command (§4.3): the only change the platform allows is to CANCELED. */
export const modifyCommandBody = invalid(
  Joi.object({
    status: invalid(Joi.string().valid('CANCELED').required()),
  }).unknown(false),
);

/** Create a cancel task (§4.4): cancels every pending command of one device. */
export const createCancelTaskBody = invalid(
  Joi.object({
    deviceId: deviceId().required(),
  }).unknown(false),
);

/** The cancel task statuses of §4.4, `WAITTING` spelt as the platform spells it. */
export const CANCEL_TASK_STATUSES = ['WAITTING', 'RUNNING', 'SUCCESS', 'FAILED', 'PART_SUCCESS'] as const;

export const listCancelTasksQuery = Joi.object({
  ...paging,
  taskId: invalid(text(64)),
  deviceId: deviceId(),
  status: invalid(Joi.string().valid(...CANCEL_TASK_STATUSES)),
  ...timeWindow,
}).unknown(false);
