// A time window of two compact UTC query fields (startTime/endTime), shared by the list and history queries of several families.
import type Joi from 'joi';
import { compactUtc, instantOf } from './schema.js';

/** Joi error type of a window whose start is after its end; each family words it through WINDOW_MESSAGES. */
export const WINDOW_RULE = 'rule.startAfterEnd';

/** Spread into a family's `messages`: the check at start wants wording for every `rule.*` type a schema raises. */
export const WINDOW_MESSAGES: Readonly<Record<string, string>> = Object.freeze({
  [WINDOW_RULE]: 'must not be later than endTime',
});

/**
 * startTime of a window: a real compact UTC instant not later than the sibling endTime. Only a start after
 * the end is refused; an equal start and end is a window the platform documents no rule against, and the
 * gateway must not refuse what the platform may accept.
 */
export const windowStart = (): Joi.StringSchema =>
  compactUtc().custom((value: string, helpers) => {
    const parent = (helpers.state.ancestors as unknown[] | undefined)?.[0];
    const end = parent !== null && typeof parent === 'object' ? instantOf((parent as { endTime?: unknown }).endTime) : undefined;
    const start = instantOf(value);
    return start !== undefined && end !== undefined && start > end ? helpers.error(WINDOW_RULE) : value;
  }, 'not later than endTime');

/** endTime of a window: a real compact UTC instant (the order is startTime's rule, so it is reported once). */
export const windowEnd = (): Joi.StringSchema => compactUtc();
