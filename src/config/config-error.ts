/** Thrown for configuration the sidecar cannot start with; the CLI prints the message as one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
