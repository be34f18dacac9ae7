// The batch-tasks family's Joi schemas (platform-api.md §7.1 and Huawei's SDK reference for BatchTaskCreateInDTO): the task body and the subtask query.
import Joi from 'joi';
import { commandCallbackUrl, commandDto } from '../common/command.js';
import { INT_MAX, text } from '../common/schema.js';

/**
 * Task types: §7.1 names only DeviceCmd ("e.g."); Huawei's SDK reference for BatchTaskCreateInDTO
 * (support.huaweicloud.com, PHP SDK "Creating a Batch Task") lists these six. The gateway accepts the six.
 */
export const TASK_TYPES = ['DeviceCmd', 'DeviceReg', 'DeviceLocation', 'DeviceMod', 'DeviceDel', 'DeviceLicense'] as const;

/** DeviceCmd's target selectors (same SDK reference; their literal names are not in platform-api.md [?]). */
export const DEVICE_CMD_TYPES = ['DeviceList', 'DeviceType', 'DeviceArea', 'GroupList', 'Broadcast', 'GroupIdList'] as const;

/**
 * A list of targets: its maximum is not documented for this API [?]. Huawei's newer batch API (IoTDA v5)
 * takes up to 30,000 device IDs; the same bound is used here, above what the default BODY_LIMIT (256 KB) can
 * carry of real IDs, so it never refuses a list the platform could receive, and it bounds validation (§6).
 */
export const MAX_TARGETS = 30_000;
/** Tags per task: undocumented [?]; a generous bound for validation's sake. */
export const MAX_TAGS = 1_000;

const ids = (max: number) => Joi.array().items(text(max)).max(MAX_TARGETS);

/**
 * `param` of a DeviceCmd task: the fields of §7.1 (PHPSDK `DeviceCmd`), unknown ones refused. A field the
 * selector needs is required with it ("conditionally mandatory" in the SDK reference): deviceList for
 * DeviceList, deviceType for DeviceType, deviceLocation for DeviceArea, groupList for GroupList. What
 * GroupIdList reads is not documented, so nothing is required with it [?].
 */
const deviceCmdParam = Joi.object({
  type: Joi.string()
    .valid(...DEVICE_CMD_TYPES)
    .required(),
  deviceList: ids(64).when('type', { is: 'DeviceList', then: Joi.required() }),
  deviceType: text(256).when('type', { is: 'DeviceType', then: Joi.required() }),
  manufacturerId: text(256),
  model: text(256),
  deviceLocation: text(256).when('type', { is: 'DeviceArea', then: Joi.required() }),
  groupList: ids(256).when('type', { is: 'GroupList', then: Joi.required() }),
  groupTag: text(256),
  command: commandDto().required(),
  callbackUrl: commandCallbackUrl(),
  maxRetransmit: Joi.number().integer().min(0).max(3),
  fileId: text(256),
}).unknown(false);

/** TagDTO2: a name and a value (lengths undocumented: the platform's common String(256) is assumed [?]). */
const tag = Joi.object({
  tagName: text(256).required(),
  tagValue: text(256).required(),
}).unknown(false);

/**
 * Create batch task (§7.1). `appId` is mandatory at the platform but the gateway's to fill (RouteSpec
 * `platform.appId: 'body'`). Limits from Huawei's SDK reference, the only source that states them:
 * taskName at most 256 characters, timeout 10–2880 (minutes in one copy, seconds in another: either way the
 * same numbers). The `param` of the other task types is not documented anywhere we have, so any object is
 * passed on for them and the platform judges it.
 */
export const createBatchTaskBody = Joi.object({
  timeout: Joi.number().integer().min(10).max(2880).required(),
  taskName: text(256).required(),
  taskType: Joi.string()
    .valid(...TASK_TYPES)
    .required(),
  // The base admits any keys, for the other task types; DeviceCmd's shape (unknown keys refused) replaces it.
  param: Joi.object()
    .unknown(true)
    .required()
    .when('taskType', { is: 'DeviceCmd', then: deviceCmdParam, otherwise: Joi.object().unknown(true) }),
  tags: Joi.array().items(tag).max(MAX_TAGS),
}).unknown(false);

/**
 * Query one task (§7.1): `select` is documented as a parameter without values (the SDK reference reads it
 * as a list of optional fields to return, e.g. `tag`) [?], so any short text is passed on.
 */
export const getBatchTaskQuery = Joi.object({
  select: text(256),
}).unknown(false);

/** Subtask statuses (§7.1). */
export const SUBTASK_STATUSES = ['Pending', 'WaitResult', 'Success', 'Fail', 'Timeout'] as const;

/**
 * Query subtasks (§7.1): `taskId` comes from the path. pageSize ≥ 1 with no documented maximum (default 1
 * per the SDK reference), pageNo ≥ 0; `index` is the subtask's position, an integer [?].
 */
export const listSubtasksQuery = Joi.object({
  status: Joi.string().valid(...SUBTASK_STATUSES),
  index: Joi.number().integer().min(0).max(INT_MAX),
  nodeId: text(256),
  deviceId: text(64),
  commandId: text(64),
  pageNo: Joi.number().integer().min(0).max(INT_MAX),
  pageSize: Joi.number().integer().min(1).max(INT_MAX),
}).unknown(false);
