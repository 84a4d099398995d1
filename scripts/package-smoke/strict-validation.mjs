// Run by scripts/package-smoke.sh in the project where the sidecar's tarball is installed. The bundle gives
// @platformatic/kafka an Ajv that is made, and loads ajv from node_modules, on a validator's first call
// (scripts/lazy-ajv.ts): a client made with `strict` must refuse bad options with the library's own messages.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const fail = (why) => {
  console.error(`strict-validation: ${why}`);
  process.exit(1);
};
const dist = new URL('./node_modules/ordered-sidecar/dist/', `file://${process.cwd()}/`);
const chunk = readdirSync(dist).find((f) => /^platformatic-log-clients-\w+\.js$/.test(f));
if (!chunk) fail(`no platformatic-log-clients chunk in ${dist.pathname}`);
const bundled = await import(new URL(chunk, dist).href);
const library = await import(pathToFileURL(createRequire(new URL('package.json', dist)).resolve('@platformatic/kafka')).href);

const refusal = async (Admin, extra) => {
  try {
    await new Admin({ clientId: 'smoke', bootstrapBrokers: ['127.0.0.1:1'], strict: true, ...extra }).close();
    return 'accepted';
  } catch (err) {
    return `${err.constructor.name}: ${err.message}`;
  }
};
for (const extra of [{ retries: -5 }, { clientId: 42 }, { bootstrapBrokers: 'nope' }]) {
  const [ours, theirs] = [await refusal(bundled.Admin, extra), await refusal(library.Admin, extra)];
  if (ours !== theirs || !ours.startsWith('UserError: /options/')) fail(`${JSON.stringify(extra)}: the bundle says "${ours}", the library "${theirs}"`);
}
console.log('strict-validation: the bundled clients refuse bad options as @platformatic/kafka does');
