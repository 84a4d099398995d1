import { withoutUrlPassword } from '../logging/logger.ts';
import { OPTION_KEYS, SECRET_ENVS, SETTINGS, flagName, isSwitch } from './load-config.ts';
import { DEFAULT_OPTIONS, type SidecarOptions } from './options.ts';

const UNITS_MS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];
const UNITS_BYTES: [string, number][] = [
  ['GiB', 1 << 30],
  ['MiB', 1 << 20],
  ['KiB', 1 << 10],
];

/** The largest unit that writes `n` whole, in the notation the options are given in (30s, 24h, 900KiB). */
const inUnits = (n: number, units: [string, number][], none: string): string => {
  const unit = units.find(([, size]) => n !== 0 && n % size === 0);
  return unit ? `${n / unit[1]}${unit[0]}` : `${n}${none}`;
};

/** An option's value as it would be written in its env variable; secrets and a URL's password masked. */
export function showValue(key: keyof SidecarOptions, value: SidecarOptions[keyof SidecarOptions]): string {
  if (value === undefined) return 'unset';
  const env = SETTINGS[key].env;
  if (SECRET_ENVS.has(env)) return '(set, hidden)';
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'number' && key.endsWith('Ms')) return inUnits(value, UNITS_MS, 'ms');
  // The two byte-length limits (MAX_GROUP_BYTES, MAX_DEDUP_ID_BYTES) read better as plain numbers.
  if (typeof value === 'number' && key.endsWith('Bytes') && value >= 1024) return inUnits(value, UNITS_BYTES, '');
  return key === 'redisUrl' ? withoutUrlPassword(String(value)) : String(value);
}

/** `serve --help`: every option with its flag, env variable, default and meaning, from SETTINGS. */
export function optionsHelp(): string {
  return OPTION_KEYS.map((key) => {
    const { env, help } = SETTINGS[key];
    const value = isSwitch(key) ? '' : ' VALUE';
    const defaults: Partial<Record<keyof SidecarOptions, SidecarOptions[keyof SidecarOptions]>> = DEFAULT_OPTIONS;
    return `  ${`${flagName(env)}${value}`.padEnd(42)} env ${env}, default ${showValue(key, defaults[key])}\n      ${help}`;
  }).join('\n');
}

/** `config check`: every option's effective value and where it came from, secrets masked. */
export function effectiveConfig(options: SidecarOptions, sources: ReadonlyMap<keyof SidecarOptions, string>): string {
  const width = Math.max(...OPTION_KEYS.map((key) => SETTINGS[key].env.length));
  return OPTION_KEYS.map((key) => `${SETTINGS[key].env.padEnd(width)}  ${showValue(key, options[key])}  (${sources.get(key) ?? 'default'})`).join('\n');
}
