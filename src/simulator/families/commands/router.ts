// The simulator's commands family (platform-api.md §4–§7): not served yet.
import express from 'express';
import { simulatorFamily } from '../types.js';

export const commandSimulator = simulatorFamily({
  name: 'commands',
  createAppData: () => ({}),
  router: () => express.Router(),
});
