// Joi building blocks that several families share: the platform's strings, integers and compact UTC times.
import Joi from 'joi';

/** The platform's Integer (a Java int): the largest page number or count it could be asked for. */
export const INT_MAX = 2_147_483_647;

/**
 * The platform's String(max). Joi refuses the empty string already; a blank one is refused too, since the
 * platform reads it as "null" or as a malformed ID.
 */
export const text = (max: number) => Joi.string().max(max).pattern(/\S/, 'not blank');

/** yyyyMMdd'T'HHmmss'Z' with each field in its range; day-of-month overflow is caught by `instantOf`. */
export const COMPACT_UTC = /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3])[0-5]\d[0-5]\dZ$/;
export const COMPACT_UTC_NAME = "yyyyMMdd'T'HHmmss'Z'";

/** Milliseconds since the epoch of a compact UTC time, or undefined if it is not a real instant. */
export function instantOf(value: unknown): number | undefined {
  if (typeof value !== 'string' || !COMPACT_UTC.test(value)) return undefined;
  const n = (from: number, to: number) => Number(value.slice(from, to));
  const [y, mo, d] = [n(0, 4), n(4, 6), n(6, 8)];
  const ms = Date.UTC(y, mo - 1, d, n(9, 11), n(11, 13), n(13, 15));
  const date = new Date(ms);
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d ? ms : undefined;
}

/** A compact UTC time that names a real instant (the pattern alone lets 30 February through). */
export const compactUtc = () =>
  Joi.string()
    .pattern(COMPACT_UTC, COMPACT_UTC_NAME)
    .custom((value: string, helpers) => {
      // With abortEarly off Joi runs this even after the pattern failed; that failure is reported already.
      return COMPACT_UTC.test(value) && instantOf(value) === undefined ? helpers.error('rule.notAnInstant') : value;
    }, 'a real calendar instant');
