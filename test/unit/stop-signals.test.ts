import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { StopSignals } from '../../src/cli/stop-signals.ts';

describe('StopSignals', () => {
  it('stops on the first signal once started, and only reports the ones after it', () => {
    const source = new EventEmitter();
    const signals = new StopSignals(source);
    const seen: string[] = [];
    signals.onStop(
      (s) => seen.push(`stop ${s}`),
      (s) => seen.push(`again ${s}`),
    );
    source.emit('SIGTERM');
    source.emit('SIGTERM');
    source.emit('SIGINT');
    expect(seen).toEqual(['stop SIGTERM', 'again SIGTERM', 'again SIGINT']);
    // Still listened for: Node's default action (the end of the process) never applies while the drain runs.
    expect([source.listenerCount('SIGTERM'), source.listenerCount('SIGINT')]).toEqual([1, 1]);
  });

  it('keeps a signal that came during the start and stops as soon as the sidecar has started', () => {
    const source = new EventEmitter();
    const signals = new StopSignals(source);
    source.emit('SIGINT');
    const seen: string[] = [];
    signals.onStop(
      (s) => seen.push(`stop ${s}`),
      (s) => seen.push(`again ${s}`),
    );
    source.emit('SIGTERM');
    expect(seen).toEqual(['stop SIGINT', 'again SIGTERM']);
  });
});
