#!/usr/bin/env node
import { ConfigError, loadConfig } from './config/load-config.ts';
import { createLogger } from './logging/logger.ts';
import { CONFIG_USAGE, SERVE_USAGE, configCommand, wantsHelp } from './cli/config-command.ts';
import { GROUPS_USAGE, groupsCommand } from './cli/groups-command.ts';
import { SUBSCRIPTIONS_USAGE, subscriptionsCommand } from './cli/subscriptions-command.ts';
import { VERSION } from './version.ts';
import { SubscriptionsError } from './consume/subscriptions.ts';
import { releaseStartupMemory } from './cli/release-startup-memory.ts';
import { applyHeapSettings } from './cli/heap-settings.ts';
import { StopSignals } from './cli/stop-signals.ts';
import { unsupportedNode } from './cli/node-version.ts';

const USAGE = `ordered-sidecar ${VERSION}: MessageGroup ordering for Kafka, as a sidecar

Usage:
  ordered-sidecar serve [options]    run the sidecar (options: ordered-sidecar serve --help)
${CONFIG_USAGE}
  ordered-sidecar groups <subcommand> ...   inspect and manage MessageGroup mappings over /admin/v1:
${GROUPS_USAGE}
  ordered-sidecar subscriptions|dlq <subcommand> ...   ordered consumption (blocked groups, stop/start, reset, dead-letter replay), over /admin/v1:
${SUBSCRIPTIONS_USAGE}
  ordered-sidecar -v, --version      print the version
  ordered-sidecar -h, --help         this help; every command takes -h/--help too
`;

async function serve(argv: string[]): Promise<void> {
  if (wantsHelp(argv)) {
    process.stdout.write(SERVE_USAGE);
    return;
  }
  const tooOld = unsupportedNode(process.version);
  if (tooOld) {
    process.stderr.write(`ordered-sidecar: ${tooOld}\n`);
    process.exit(2);
  }
  // First: it may start node again with a heap flag, which is cheapest before anything is read or opened.
  const endStartupSettings = applyHeapSettings();
  // Listened for before anything slow: a stop asked for during the start is kept, not lost (stop-signals.ts).
  const signals = new StopSignals(process);
  let options;
  try {
    options = loadConfig(argv, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`ordered-sidecar: ${err.message}\n`);
    process.exit(2);
  }
  const log = createLogger(options.logLevel, { service: 'ordered-sidecar', pid: process.pid });
  // Loaded here, not at the top: the `groups` commands should not pay for Kafka and Redis clients.
  const { startSidecar, ListenError } = await import('./sidecar.ts');
  // Loaded: V8's optimising compiler may run from now on (heap-settings.ts).
  endStartupSettings();
  let sidecar;
  try {
    sidecar = await startSidecar(options, log);
  } catch (err) {
    // A token file or the subscriptions file the start cannot use (read only now): one line, as from loadConfig.
    if (err instanceof SubscriptionsError || err instanceof ConfigError) {
      process.stderr.write(`ordered-sidecar: ${err.message}\n`);
      process.exit(2);
    }
    if (!(err instanceof ListenError) || (err.code !== 'EADDRINUSE' && err.code !== 'EADDRNOTAVAIL' && err.code !== 'EACCES')) throw err;
    // A listen failure is a configuration problem: one line, like the other configuration errors, naming the
    // listener's address and options (OPS_PORT's is not PORT's).
    process.stderr.write(`ordered-sidecar: ${err.message}\n`);
    process.exit(2);
  }
  // Started: the start-up garbage goes back to the OS before the first requests make new.
  releaseStartupMemory();
  const running = sidecar;
  signals.onStop(
    (signal) => {
      log.info('signal received', { signal });
      running.close().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error('shutdown failed', { err });
          process.exit(1);
        },
      );
    },
    (signal) => log.info('signal received while shutting down; the shutdown goes on', { signal }),
  );
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'serve':
    await serve(rest);
    break;
  case 'groups':
    process.exitCode = await groupsCommand(rest, process.env, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
    break;
  case 'subscriptions':
  case 'dlq':
    process.exitCode = await subscriptionsCommand(rest, process.env, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }, command);
    break;
  case 'config':
    process.exitCode = configCommand(rest, process.env, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
    break;
  case '-v':
  case '--version':
    process.stdout.write(`${VERSION}\n`);
    break;
  case undefined:
  case 'help':
  case '-h':
  case '--help':
    process.stdout.write(USAGE);
    break;
  default:
    process.stderr.write(`ordered-sidecar: unknown command "${command}"\n\n${USAGE}`);
    process.exit(2);
}
