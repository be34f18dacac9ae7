// The simulator's groups family (platform-api.md §4–§7): not served yet.
import express from 'express';
import { simulatorFamily } from '../types.js';

export const groupSimulator = simulatorFamily({
  name: 'groups',
  createAppData: () => ({}),
  router: () => express.Router(),
});
