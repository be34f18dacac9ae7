// Injected platform failures: a queue of rules, each answering the next `count` matching calls its way.

export type FaultMode = 'error' | 'hang' | 'garbage' | 'reset';

export interface FaultRule {
  count: number;
  path?: string;
  appId?: string;
  method?: string;
  status?: number;
  errorCode?: string;
  errorDesc?: string;
  mode: FaultMode;
}

export interface CallIdentity {
  method: string;
  path: string;
  appId: string | null;
}

const MODES: readonly FaultMode[] = ['error', 'hang', 'garbage', 'reset'];

/** Checks a control-API body; returns the rule or a message saying what is wrong. */
export function parseFaultRule(input: unknown): FaultRule | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'body must be a JSON object';
  const o = input as Record<string, unknown>;
  if (!Number.isInteger(o.count) || (o.count as number) < 1) return 'count must be a positive integer';
  const rule: FaultRule = { count: o.count as number, mode: 'error' };
  if (o.mode !== undefined) {
    if (!MODES.includes(o.mode as FaultMode)) return `mode must be one of ${MODES.join(', ')}`;
    rule.mode = o.mode as FaultMode;
  }
  for (const key of ['path', 'appId', 'method', 'errorCode', 'errorDesc'] as const) {
    const v = o[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') return `${key} must be a string`;
    rule[key] = v;
  }
  if (o.status !== undefined) {
    if (!Number.isInteger(o.status) || (o.status as number) < 100 || (o.status as number) > 599) {
      return 'status must be an integer HTTP status (100-599)';
    }
    rule.status = o.status as number;
  }
  return rule;
}

export class FaultQueue {
  private rules: FaultRule[] = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule });
  }

  /** Consumes one use of the first matching rule, in the order the rules were added. */
  take(call: CallIdentity): FaultRule | undefined {
    const i = this.rules.findIndex((r) => matches(r, call));
    if (i < 0) return undefined;
    const rule = this.rules[i] as FaultRule;
    rule.count--;
    if (rule.count <= 0) this.rules.splice(i, 1);
    return rule;
  }

  pending(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  clear(): void {
    this.rules = [];
  }
}

function matches(rule: FaultRule, call: CallIdentity): boolean {
  if (rule.path !== undefined && !call.path.includes(rule.path)) return false;
  if (rule.appId !== undefined && rule.appId !== call.appId) return false;
  if (rule.method !== undefined && rule.method.toUpperCase() !== call.method.toUpperCase()) return false;
  return true;
}
