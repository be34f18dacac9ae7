// notifyType values of the platform's pushes (platform-api §6.3/§6.5), how a push's type is read, and the bounded metric label.

/** Service-data subscription types (subscribed through /iocm/app/sub/v1.2.0/subscriptions). */
export const SERVICE_NOTIFY_TYPES = [
  'deviceAdded',
  'bindDevice',
  'deviceInfoChanged',
  'deviceDataChanged',
  'deviceDatasChanged',
  'deviceCapabilitiesChanged',
  'deviceCapabilitiesAdded',
  'deviceCapabilitiesDeleted',
  'deviceDeleted',
  'messageConfirm',
  'commandRsp',
  'ruleEvent',
  'deviceDesiredPropertiesModifyStatusChanged',
  'serviceInfoChanged',
  'deviceEvent',
  'deviceModelAdded',
  'deviceModelDeleted',
] as const;

/** Management-data types (subscribed through /iodm/app/sub/v1.1.0/subscribe, a different API). */
export const MANAGEMENT_NOTIFY_TYPES = [
  'swUpgradeStateChangeNotify',
  'swUpgradeResultNotify',
  'fwUpgradeStateChangeNotify',
  'fwUpgradeResultNotify',
] as const;

/** Not a platform subscription: the gateway's name for NB-IoT command status pushes (they carry no notifyType). */
export const COMMAND_STATUS_CHANGED = 'commandStatusChanged';

/** Every type a webhook may ask for. */
export const NOTIFY_TYPES: readonly string[] = [...SERVICE_NOTIFY_TYPES, ...MANAGEMENT_NOTIFY_TYPES, COMMAND_STATUS_CHANGED];
const KNOWN: ReadonlySet<string> = new Set(NOTIFY_TYPES);

export const isKnownNotifyType = (t: string): boolean => KNOWN.has(t);

/** Which platform API subscribes a type (for the integrator's subscription manager); undefined for commandStatusChanged. */
export function subscriptionApiOf(t: string): 'service' | 'management' | undefined {
  if ((SERVICE_NOTIFY_TYPES as readonly string[]).includes(t)) return 'service';
  if ((MANAGEMENT_NOTIFY_TYPES as readonly string[]).includes(t)) return 'management';
  return undefined;
}

/** A type we store for a push whose notifyType is absent and which is not a command status push. */
export const UNKNOWN_NOTIFY_TYPE = 'unknown';
// A platform type we do not know yet is still stored under its own name (SSE shows it), if it looks like a name.
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * The type of a push body. Service and management pushes say it in `notifyType`; the NB-IoT command
 * status push (platform-api §6.5) has none but carries `commandId` and `result`: it becomes commandStatusChanged.
 */
export function notifyTypeOf(body: Record<string, unknown>): string {
  const t = body.notifyType;
  if (typeof t === 'string') return NAME.test(t) ? t : UNKNOWN_NOTIFY_TYPE;
  if (typeof body.commandId === 'string' && typeof body.result === 'object' && body.result !== null) return COMMAND_STATUS_CHANGED;
  return UNKNOWN_NOTIFY_TYPE;
}

/** Metric label: a known type or "other", so that a misbehaving sender cannot grow the label set. */
export const notifyLabel = (t: string): string => (KNOWN.has(t) ? t : 'other');
