// Joi blocks for what the command and batch-task families both send to a device: the command itself and its status callback URL.
import Joi from 'joi';
import { withPlatformCodes, type PlatformCodes } from '../../routes/validate.js';
import { text } from './schema.js';

/**
 * THE place for the `callbackUrl` of command bodies (create command, and a DeviceCmd batch task's `param`).
 * The platform takes any String(1024) and pushes the command's status changes there (platform-api.md §4.1,
 * §6.5). For now the caller's URL is accepted and passed on as the platform would; the events feature will
 * replace it with the gateway's own callback, and that change belongs here alone.
 */
export const commandCallbackUrl = (codes?: PlatformCodes) => {
  const schema = text(1024);
  return codes === undefined ? schema : withPlatformCodes(schema, codes);
};

/**
 * CommandDTO (platform-api.md §4.1): serviceId String(1-64) and method String(1-128) from the device's
 * profile, `paras` a JSON object of the profile's parameters. `paras` keys are the profile's, not ours to
 * know, so any key is let through there (only `paras` itself must be an object); unknown keys beside
 * serviceId/method/paras are refused.
 */
export const commandDto = (codes?: PlatformCodes) => {
  const c = <T extends Joi.Schema>(s: T): T => (codes === undefined ? s : withPlatformCodes(s, codes));
  return c(
    Joi.object({
      serviceId: c(text(64).required()),
      method: c(text(128).required()),
      paras: c(Joi.object().unknown(true).required()),
    }).unknown(false),
  );
};
