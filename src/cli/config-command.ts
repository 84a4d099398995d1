import { effectiveConfig, optionsHelp } from '../config/describe-options.ts';
import { ConfigError, loadConfigWithSources } from '../config/load-config.ts';
import { bearerTokens } from '../config/secret-file.ts';
import { loadSubscriptions, SubscriptionsError, type Subscription } from '../consume/subscriptions.ts';
import { deliveryAuthView } from '../consume/subscription-status.ts';
import { createLogger, withoutUrlPassword } from '../logging/logger.ts';
import type { Io } from './groups-command.ts';

export const CONFIG_USAGE = `  ordered-sidecar config check [serve's options]   validate env, flags and SUBSCRIPTIONS_FILE without
                                                   connecting; print the effective configuration (secrets
                                                   masked); exit 0 when valid, 2 when not`;

export const SERVE_USAGE = `Usage: ordered-sidecar serve [options]

Runs the sidecar. Every option is an environment variable or the flag of the same name (flags win); a
true/false option's bare flag means true (--kafka-tls). \`ordered-sidecar config check\` takes the same
options and checks them without connecting.

Options:
${optionsHelp()}
`;

const CHECK_USAGE = `Usage: ordered-sidecar config check [options]

Reads the configuration as \`serve\` would (environment, then flags), checks every value, the settings that
go together and the files they name (readable; a token file holding a usable token; SUBSCRIPTIONS_FILE
parsed and checked, its ack_timeouts against CONSUME_SESSION_TIMEOUT), and connects to
nothing. Prints the effective configuration with each value's source, secrets masked. Exit code 0 when
valid, 2 when not (with one line saying why). The options are serve's: \`ordered-sidecar serve --help\`.
`;

export const wantsHelp = (argv: readonly string[]): boolean => argv.includes('-h') || argv.includes('--help');

const describeSubscription = (s: Subscription): string => {
  const auth = Object.entries(deliveryAuthView(s)).flatMap(([what, on]) => (on ? [what.replace('_', ' ')] : []));
  const line = `  ${s.name}: topic ${s.topic}, consumer group ${s.consumerGroup}, endpoint ${withoutUrlPassword(s.endpoint)}, on exhausted ${s.onExhausted}`;
  return auth.length === 0 ? line : `${line}, delivery auth: ${auth.join(', ')}`;
};

/** `ordered-sidecar config ...`; resolves to the exit code (0 valid, 2 invalid or a usage error). */
export function configCommand(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): number {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    (sub === undefined ? io.err : io.out)(`Usage:\n${CONFIG_USAGE}\n`);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'check') {
    io.err(`ordered-sidecar config: unknown subcommand "${sub}"\n\nUsage:\n${CONFIG_USAGE}\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    io.out(CHECK_USAGE);
    return 0;
  }
  try {
    const { options, sources } = loadConfigWithSources(rest, env);
    // What startSidecar checks before connecting, by the same calls: the subscriptions against the session timeout,
    // and the token files read as the start reads them (nothing is logged: only a rotation would log).
    const subscriptions = loadSubscriptions(options);
    bearerTokens(
      options,
      createLogger('error', {}, () => {}),
    );
    const consumption = options.subscriptionsFile === undefined ? 'no SUBSCRIPTIONS_FILE: nothing is consumed' : `${subscriptions.length} subscription(s):`;
    io.out(`configuration is valid\n\n${effectiveConfig(options, sources)}\n\n${[consumption, ...subscriptions.map(describeSubscription)].join('\n')}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError || err instanceof SubscriptionsError)) throw err;
    io.err(`ordered-sidecar config check: ${err.message}\n`);
    return 2;
  }
}
