// One app's device groups: names unique per app, members that are devices of the app's registry (a deleted device drops out of every group).
import { randomUUID } from 'node:crypto';
import type { DeviceRegistry } from '../devices/registry.js';

export interface SimGroup {
  id: string;
  name: string;
  description: string;
  /** 0 = no limit (platform-api.md §7.2). */
  maxDevNum: number;
  /** In the order they were added; may name devices deleted since (see GroupStore.members). */
  members: Set<string>;
  createdAt: number;
}

export class GroupStore {
  private readonly byId = new Map<string, SimGroup>();

  byName(name: string): SimGroup | undefined {
    for (const g of this.byId.values()) if (g.name === name) return g;
    return undefined;
  }

  get(id: string): SimGroup | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  add(fields: { id?: string; name: string; description?: string; maxDevNum?: number }): SimGroup {
    const group: SimGroup = {
      // The platform hands out UUID-shaped IDs unless the caller chose one (§7.2 `id`).
      id: fields.id ?? randomUUID(),
      name: fields.name,
      description: fields.description ?? '',
      maxDevNum: fields.maxDevNum ?? 0,
      members: new Set(),
      createdAt: Date.now(),
    };
    this.byId.set(group.id, group);
    return group;
  }

  delete(id: string): boolean {
    return this.byId.delete(id);
  }

  /** In creation order. */
  list(): SimGroup[] {
    return [...this.byId.values()];
  }

  /**
   * The group's members that are still devices of the app. The registry belongs to the devices part and
   * has no deletion hook, so a deleted device is dropped here, when the group is read.
   */
  members(group: SimGroup, devices: DeviceRegistry): string[] {
    for (const id of group.members) if (!devices.has(id)) group.members.delete(id);
    return [...group.members];
  }
}
