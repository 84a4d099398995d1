// tsc only emits JavaScript; the Redis scripts and the OpenAPI document are read at run time next to the
// compiled code that uses them.
import { cpSync } from 'node:fs';
cpSync('src/redis/lua', 'dist/redis/lua', { recursive: true });
cpSync('src/http/openapi.json', 'dist/http/openapi.json');
