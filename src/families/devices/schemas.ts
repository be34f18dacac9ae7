// The devices family's Joi schemas (platform-api.md §5.1–§5.6, §10): register, modify, delete, query one and the list, each failure with the platform's code where it documents one.
import Joi from 'joi';
import { withPlatformCodes as codes } from '../../routes/validate.js';
import { INT_MAX, text } from '../common/schema.js';
import { windowEnd, windowStart } from '../common/window.js';
import {
  DM_BAD_PARAMETER,
  LIST_INVALID,
  LIST_NEEDS_GATEWAY_OR_PAGE,
  REG_BAD_MESSAGE,
  REG_BAD_VERIFY_CODE,
  REG_INVALID,
} from './codes.js';

/**
 * The platform's String(256): the length of most of its free-text fields. Where a field's length is not
 * documented (modify, deviceInfo), 256 is assumed too [?]: the platform's usual column for such values.
 */
const s256 = () => text(256);

/** The pre-shared key of a DTLS device: 8 to 32 hexadecimal characters (§5.1, §10). A secret: never echoed. */
export const PSK = /^[0-9a-fA-F]{8,32}$/;
const psk = () => Joi.string().pattern(PSK, '8 to 32 hexadecimal characters');

/**
 * DeviceInfo (§5.5; Huawei's SDK DTO): every field a String. The register page names only some of them
 * ("e.g. manufacturerId, …"), so the whole DTO is accepted; a field outside it is refused.
 */
const DEVICE_INFO_FIELDS = [
  'nodeId', 'name', 'description', 'manufacturerId', 'manufacturerName', 'mac', 'location', 'deviceType',
  'model', 'swVersion', 'fwVersion', 'hwVersion', 'protocolType', 'bridgeId', 'status', 'statusDetail', 'mute',
  'supportedSecurity', 'isSecurity', 'signalStrength', 'sigVersion', 'serialNumber', 'batteryLevel',
] as const;

// ---- Register (verification-code mode, §5.1) -------------------------------------------------------

const reg = <T extends Joi.Schema>(schema: T) => codes(schema, REG_INVALID);

/**
 * Unknown keys are refused at every level: a misspelt `nodeID` would otherwise be dropped and the platform
 * would answer "nodeId missing", or a misspelt `psk` would register a DTLS device with a generated key.
 */
export const registerBody = codes(
  Joi.object({
    nodeId: reg(s256().required()),
    // 100003 "Invalid verify code." is the platform's own code for this field.
    verifyCode: codes(s256(), REG_BAD_VERIFY_CODE),
    timeout: reg(Joi.number().integer().min(0).max(INT_MAX)),
    psk: reg(psk()),
    endUserId: reg(s256()),
    imsi: reg(text(64)),
    isSecure: reg(Joi.boolean()),
    deviceInfo: reg(Joi.object(Object.fromEntries(DEVICE_INFO_FIELDS.map((f) => [f, reg(s256())]))).unknown(false)),
    productId: reg(s256()),
  }).unknown(false),
  // A body that is not an object is not a registration request at all: "Bad request message."
  REG_BAD_MESSAGE,
);

// ---- Modify (§5.3): every field optional; the platform's error table was not retrieved, so no codes ----

const customField = Joi.object({
  fieldName: s256(),
  fieldType: s256(),
  // Typed by fieldType (a string, a number, …): any JSON value.
  fieldValue: Joi.any(),
}).unknown(false);

/** Joi error type of a tagType that is neither a string nor an integer (worded in codes.ts). */
export const STRING_OR_INTEGER = 'rule.stringOrInteger';

// The tag DTO's fields are not documented [?]: Huawei's SDKs name tagName/tagValue/tagType; tagType's type
// is unknown, so a string or an integer is let through.
const tag = Joi.object({
  tagName: s256(),
  tagValue: s256(),
  tagType: Joi.any().custom(
    (value: unknown, helpers) => (Number.isInteger(value) || typeof value === 'string' ? value : helpers.error(STRING_OR_INTEGER)),
    'a string or an integer',
  ),
}).unknown(false);

/** Lists in a modify are bounded, since the platform documents no bound [?]: 1,000, the platform's usual batch. */
const MAX_LIST = 1000;

export const modifyBody = Joi.object({
  name: s256(),
  endUser: s256(),
  mute: Joi.string().valid('TRUE', 'FALSE'),
  manufacturerId: s256(),
  manufacturerName: s256(),
  deviceType: s256(),
  model: s256(),
  location: s256(),
  protocolType: s256(),
  region: s256(),
  organization: s256(),
  timezone: s256(),
  imsi: text(64),
  ip: s256(),
  isSecure: Joi.boolean(),
  psk: psk(),
  customFields: Joi.array().items(customField).max(MAX_LIST),
  deviceConfig: Joi.object({
    dataConfig: Joi.object({
      // History retention in days: 7 in newer docs, up to 90 in older ones [?]; any non-negative integer passes.
      dataAgingTime: Joi.number().integer().min(0).max(INT_MAX),
    }).unknown(false),
  }).unknown(false),
  tags: Joi.array().items(tag).max(MAX_LIST),
}).unknown(false);

// ---- Delete (§5.4) and query one (§5.5) -----------------------------------------------------------

export const deleteQuery = Joi.object({
  // Only meaningful for a device with children; `true` deletes them too.
  cascade: Joi.boolean(),
}).unknown(false);

export const getQuery = Joi.object({
  select: codes(Joi.string().valid('imsi'), DM_BAD_PARAMETER),
}).unknown(false);

// ---- The list (§5.6) ------------------------------------------------------------------------------

const listField = <T extends Joi.Schema>(schema: T) => codes(schema, LIST_INVALID);

/** Joi error type of a list query with neither gatewayId nor pageNo (worded in codes.ts). */
export const GATEWAY_OR_PAGE = 'rule.gatewayOrPage';
const EITHER = 'One of gatewayId or pageNo is required (the platform answers 100218 otherwise).';

// The "one of gatewayId or pageNo" rule is a custom rule on the whole query rather than Joi's `or`: the
// OpenAPI document gives each query key its own parameter and cannot render a rule across keys, so the rule
// is described on both parameters instead.
export const listQuery = codes(
  Joi.object({
    gatewayId: listField(s256().description(EITHER)),
    nodeType: listField(Joi.string().valid('ENDPOINT', 'GATEWAY', 'UNKNOW')),
    deviceType: listField(s256()),
    location: listField(s256()),
    name: listField(s256()),
    pageNo: listField(Joi.number().integer().min(0).max(INT_MAX).description(EITHER)),
    // 1–250, default 25 (the older SDK doc says default 1 [?]; the default is the platform's to apply).
    pageSize: listField(Joi.number().integer().min(1).max(250)),
    status: listField(Joi.string().valid('ONLINE', 'OFFLINE', 'INACTIVE', 'ABNORMAL')),
    startTime: listField(windowStart()),
    endTime: listField(windowEnd()),
    sort: listField(Joi.string().valid('ASC', 'DESC')),
    select: codes(Joi.string().valid('imsi'), DM_BAD_PARAMETER),
  })
    .custom((value: Record<string, unknown>, helpers) =>
      value.gatewayId === undefined && value.pageNo === undefined ? helpers.error(GATEWAY_OR_PAGE) : value,
    'one of gatewayId or pageNo')
    .unknown(false),
  { [GATEWAY_OR_PAGE]: LIST_NEEDS_GATEWAY_OR_PAGE },
);
