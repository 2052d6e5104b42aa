/** Waiting for the signal that stops a long-running command (`tandem gateway`, `tandem serve`). */

/** Resolves with the first of `signals` this process receives (and stops listening for the others). */
export function untilSignal(...signals: NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      for (const s of signals) process.off(s, on);
      resolve(signal);
    };
    for (const s of signals) process.on(s, on);
  });
}
