// tsc only emits JavaScript; the Redis scripts are read at run time next to the compiled store.
import { cpSync } from 'node:fs';
cpSync('src/redis/lua', 'dist/redis/lua', { recursive: true });
