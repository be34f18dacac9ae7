// Prometheus metrics of the events module, registered on the gateway's registry; labels are bounded (known notifyTypes or "other", fixed outcomes).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createEventMetrics(registry: Registry) {
  return {
    /** Pushes at the callback: stored, duplicate, invalid, not_found, unavailable. */
    received: new Counter({
      name: 'iotbff_events_received_total',
      help: 'Platform pushes at the callback, by notifyType and outcome (stored, duplicate, invalid, not_found, unavailable).',
      labelNames: ['notify_type', 'outcome'] as const,
      registers: [registry],
    }),
    /** Delivery attempts: delivered, retried (failed, another try is scheduled), failed (given up), expired (trimmed before delivery). */
    deliveries: new Counter({
      name: 'iotbff_event_deliveries_total',
      help: 'Webhook delivery attempts, by notifyType and outcome (delivered, retried, failed, expired).',
      labelNames: ['notify_type', 'outcome'] as const,
      registers: [registry],
    }),
    /** From storage to a successful delivery: what a receiver waits. */
    latency: new Histogram({
      name: 'iotbff_event_delivery_latency_seconds',
      help: 'Time from an event being stored to its successful delivery to a webhook, by attempt kind (first, retry).',
      labelNames: ['attempt'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    }),
    sseStreams: new Gauge({
      name: 'iotbff_event_streams_open',
      help: 'Server-Sent Events streams open on this replica.',
      registers: [registry],
    }),
    sseEvents: new Counter({
      name: 'iotbff_event_stream_events_total',
      help: 'Events written to SSE clients, by notifyType.',
      labelNames: ['notify_type'] as const,
      registers: [registry],
    }),
    webhooksActive: new Gauge({
      name: 'iotbff_webhooks_delivering',
      help: 'Webhooks whose deliveries this replica currently runs (it holds their lease).',
      registers: [registry],
    }),
  };
}

export type EventMetrics = ReturnType<typeof createEventMetrics>;
