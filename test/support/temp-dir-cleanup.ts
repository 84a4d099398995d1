import { afterAll } from 'vitest';
import { removeTempDirs } from './temp-dir.ts';

// A setup file of every project: the directories a test file made with tempDir() go when the file is done.
afterAll(removeTempDirs);
