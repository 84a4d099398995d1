import { defineConfig } from 'vitest/config';

/** Removes the directories a test file made with test/support/temp-dir.ts once the file is done. */
const TEMP_DIR_CLEANUP = 'test/support/temp-dir-cleanup.ts';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', setupFiles: [TEMP_DIR_CLEANUP] },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/sdk/**/*.test.ts', 'examples/**/*.test.ts'],
          exclude: ['test/e2e/failover/**'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: [TEMP_DIR_CLEANUP, 'test/support/contract-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores: files against one broker would only slow each other down.
          fileParallelism: false,
        },
      },
      {
        // Against `stack.sh up --secure --redis-cluster` (.ci/run's last phase): the secured Kafka's refusals,
        // a Cluster master lost mid-stream, and the suites that prove every Redis script and the ordering
        // path work on a Cluster over SASL_SSL.
        test: {
          name: 'secure',
          include: [
            'test/secure/**/*.test.ts',
            'test/integration/**/*.test.ts',
            'test/e2e/ordered-produce.test.ts',
            'test/e2e/dedup.test.ts',
            'test/e2e/admin.test.ts',
            'test/e2e/admin-script.test.ts',
          ],
          // A plain kafkajs process by design (a client-library quirk, not the sidecar's connection).
          exclude: ['test/integration/kafkajs-request-queue.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: [TEMP_DIR_CLEANUP, 'test/support/contract-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        // Against `stack.sh up --redis-sentinel` (.ci/run's sentinel phase): a master killed mid-stream and
        // promoted by the sentinels.
        test: {
          name: 'sentinel',
          include: ['test/sentinel/**/*.test.ts'],
          environment: 'node',
          setupFiles: [TEMP_DIR_CLEANUP],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'failover',
          include: ['test/e2e/failover/**/*.test.ts'],
          environment: 'node',
          setupFiles: [TEMP_DIR_CLEANUP],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
