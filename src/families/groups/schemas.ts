// The groups family's Joi schemas (platform-api.md §7.2, §10): group bodies, member lists and list queries, unknown fields refused at every level.
import Joi from 'joi';
import { INT_MAX, text } from '../common/schema.js';

/*
 * No platform code is attached to these failures: the platform documents no validation code for the group
 * APIs (platform-api.md §7.2, §11.2), and contract §9 asks for one only where it does. The caller still
 * gets 400 VALIDATION_FAILED with the field and the rule.
 */

/** String(1-50), "only uppercase and lowercase letters and digits" (§7.2). */
export const groupName = () => Joi.string().max(50).pattern(/^[A-Za-z0-9]+$/, 'letters and digits');

/**
 * String(1024). The empty string is let through: the docs do not say the platform refuses it, and the
 * gateway must not refuse what the platform accepts ([?]).
 */
const description = () => Joi.string().allow('').max(1024);

/** Integer ≥ 0, 0 = no limit (§7.2); the platform's Integer is a Java int. */
const maxDevNum = () => Joi.number().integer().min(0).max(INT_MAX);

/**
 * A device ID. The group pages give no length; 256 is the platform's usual String(256) for IDs (as for the
 * upgrade family's device lists), far above the 36 characters of the IDs it hands out.
 */
const deviceId = () => text(256);

/**
 * The member APIs take "String[] up to 1000" (§7.2, §10). An empty list is let through: the docs say only
 * "up to 1000", and the gateway must not refuse what the platform may accept ([?]).
 */
const memberList = () => Joi.array().items(deviceId()).max(1000);

export const createGroupBody = Joi.object({
  name: groupName().required(),
  description: description(),
  maxDevNum: maxDevNum(),
  // The create API documents no upper bound for its deviceIds ([?]). Validation must be bounded (contract §6),
  // so the member APIs' documented 1,000 applies here too: a larger group is created, then filled through
  // POST /groups/{devGroupId}/members in lists of 1,000 (README, groups). Written down as a deliberate choice.
  deviceIds: memberList(),
  // The caller may choose the group's ID: String(1-50) (§7.2). An ID outside the gateway's path-parameter
  // alphabet can be created but not addressed through /groups/{devGroupId}; the platform allows it, so it is not refused here.
  id: text(50),
}).unknown(false);

/**
 * `name` is mandatory on modify too (Huawei's REST page "Modifying a Device Group", iot_06_0068; §7.2's
 * table lists the fields without saying). A PUT without it would be refused by the platform anyway.
 */
export const modifyGroupBody = Joi.object({
  name: groupName().required(),
  description: description(),
  maxDevNum: maxDevNum(),
}).unknown(false);

/** Add or remove members: `devGroupId` comes from the path (bodyFromPath), the list is required. */
export const memberBody = Joi.object({
  deviceIds: memberList().required(),
}).unknown(false);

/**
 * pageNo: Integer ≥ 0 ("null = no paging"); pageSize: Integer, default 1, no documented maximum ([?]): any
 * positive int is let through and the platform judges (§7.2; Huawei's "Querying the Device Group List").
 */
const paging = {
  pageNo: Joi.number().integer().min(0).max(INT_MAX),
  pageSize: Joi.number().integer().min(1).max(INT_MAX),
};

export const groupListQuery = Joi.object({
  ...paging,
  // A filter by name: any text the platform could hold as a name is let through; the platform matches it.
  name: text(50),
}).unknown(false);

export const memberListQuery = Joi.object({ ...paging }).unknown(false);
