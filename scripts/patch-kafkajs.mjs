// kafkajs 2.2.4 (unfixed upstream: tulios/kafkajs#1751) computes `throttledUntil - Date.now()` as the delay
// of its pending-request check; unthrottled, throttledUntil is -1, so the delay is minus the epoch and Node
// 24 prints a TimeoutNegativeWarning on the first request of every process. Node already treats any delay
// below 1 as 1, so clamping to 1 at that call changes nothing but the warning. Run after every install
// (package.json postinstall, and the Dockerfile's production stage, which installs with --ignore-scripts).
// Idempotent; a kafkajs whose code no longer matches is left alone, with a note.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const FILE = 'node_modules/kafkajs/src/network/requestQueue/index.js';
const UNPATCHED = '      }, scheduleAt)\n';
const PATCHED = '      }, Math.max(1, scheduleAt)) // ordered-sidecar: tulios/kafkajs#1751, see scripts/patch-kafkajs.mjs\n';

if (existsSync(FILE)) {
  const source = readFileSync(FILE, 'utf8');
  if (source.includes(UNPATCHED)) writeFileSync(FILE, source.replace(UNPATCHED, PATCHED));
  else if (!source.includes(PATCHED)) console.warn(`patch-kafkajs: ${FILE} changed; not patched (check whether tulios/kafkajs#1751 is fixed)`);
}
