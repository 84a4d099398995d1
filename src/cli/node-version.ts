/** The oldest Node.js `serve` runs on (package.json `engines`). */
export const MIN_NODE_MAJOR = 24;

/**
 * Why `serve` cannot run on Node `version` (process.version), or undefined when it can. An older Node starts,
 * listens and then fails far from the cause (a missing built-in such as Promise.withResolvers, reported as Kafka
 * not reachable), so the start refuses it first.
 */
export function unsupportedNode(version: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return `serve needs Node.js ${MIN_NODE_MAJOR} or later, and this is ${version}: run it with the Node of \`npm ci\` (node_modules/.bin/node) or the container image`;
}
