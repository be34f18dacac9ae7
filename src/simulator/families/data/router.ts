// The simulator's data family (platform-api.md §4–§7): not served yet.
import express from 'express';
import { simulatorFamily } from '../types.js';

export const dataSimulator = simulatorFamily({
  name: 'data',
  createAppData: () => ({}),
  router: () => express.Router(),
});
