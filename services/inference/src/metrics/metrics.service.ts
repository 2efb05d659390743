import * as tf from '@tensorflow/tfjs';
import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10];

/** Prometheus metrics of one app instance (its own registry, so several apps can live in one test process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'lvseg_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'lvseg_http_request_duration_seconds',
    help: 'Time from request to response, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  // principal: an API key's name (at most 100, from config), `oidc`, `anonymous`, or `none` (no valid credential).
  readonly authRequests = new Counter({
    name: 'lvseg_auth_requests_total',
    help: 'Requests to routes that need a credential, by principal (API key name, oidc, anonymous or none) and outcome (allowed, unauthenticated, forbidden, rate-limited)',
    labelNames: ['principal', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly inferenceDuration = new Histogram({
    name: 'lvseg_inference_duration_seconds',
    help: 'Time of one engine call: a batched segmentation forward pass (with pre- and post-processing), heatmaps or Grad-CAM',
    labelNames: ['kind', 'model_version'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: 'lvseg_inference_batch_size',
    help: 'Images per segmentation forward pass',
    buckets: [1, 2, 3, 4, 6, 8, 12, 16, 32],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'lvseg_queue_depth',
    help: 'Jobs waiting or running in the inference queue',
    registers: [this.registry],
  });

  readonly queueRejections = new Counter({
    name: 'lvseg_queue_rejections_total',
    help: 'Requests answered 503 because the inference queue was full',
    registers: [this.registry],
  });

  readonly modelInfo = new Gauge({
    name: 'lvseg_model_info',
    help: 'The model version served by default (value 1)',
    labelNames: ['version', 'architecture'] as const,
    registers: [this.registry],
  });

  readonly modelSwaps = new Counter({
    name: 'lvseg_model_swaps_total',
    help: 'Attempts to switch the served model: loaded, or refused (integrity or load failure; the old one kept serving)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    this.modelSwaps.inc({ outcome: 'loaded' }, 0);
    this.modelSwaps.inc({ outcome: 'refused' }, 0);
    new Gauge({
      name: 'lvseg_tfjs_tensors',
      help: 'Live tfjs tensors (flat over time unless something leaks)',
      registers: [this.registry],
      collect() {
        this.set(tf.memory().numTensors);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'lvseg_' });
  }

  /** Points the model info gauge at the version now served. */
  setServedModel(version: string, architecture: string): void {
    this.modelInfo.reset();
    this.modelInfo.set({ version, architecture }, 1);
  }
}
