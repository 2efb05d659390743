/**
 * A real redis-server for tests: the launcher shared with the benchmarks (services/inference/bench/support/redis.ts),
 * plus the rule for a suite that needs it: skip with the reason printed when it is missing, fail under CI=true.
 */
import { redisMissingReason } from '../../services/inference/bench/support/redis';

export type { RedisOptions, RunningRedis } from '../../services/inference/bench/support/redis';
export { redisMissingReason, startRedis } from '../../services/inference/bench/support/redis';

/**
 * The `describe` to use for a suite needing redis-server: `describe.skip` with the reason printed when it is missing,
 * and an error under CI=true (a CI run must not pass by skipping).
 */
export function describeWithRedis(extraReason?: string): jest.Describe {
  const reason = redisMissingReason() ?? extraReason;
  if (!reason) return describe;
  if (process.env.CI === 'true') throw new Error(`this test cannot run under CI=true (it must not pass by skipping): ${reason}`);
  // eslint-disable-next-line no-console
  console.warn(`skipping: ${reason}`);
  return describe.skip;
}
