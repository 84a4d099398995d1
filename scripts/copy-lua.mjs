// The bundle holds only JavaScript; the Redis scripts and the OpenAPI document are read at run time where the code
// that uses them expects them: next to its own place in dist/ (scripts/build-server.mjs keeps those places).
import { cpSync } from 'node:fs';
cpSync('src/redis/lua', 'dist/redis/lua', { recursive: true });
cpSync('src/http/openapi.json', 'dist/http/openapi.json');
