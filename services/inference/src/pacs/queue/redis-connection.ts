import type { ConnectionOptions } from 'bullmq';
import type { QueueConfig } from '@lvseg/config';

/**
 * ioredis options for BullMQ from LVSEG_REDIS_URL (+ LVSEG_REDIS_PASSWORD). `maxRetriesPerRequest: null` as BullMQ
 * requires for workers (a blocking read must wait out a Redis restart rather than fail the worker).
 */
export function redisConnection(config: Pick<QueueConfig, 'redisUrl' | 'redisPassword'>): ConnectionOptions {
  const url = new URL(config.redisUrl);
  const password = config.redisPassword ?? (url.password ? decodeURIComponent(url.password) : undefined);
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 6379,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}
