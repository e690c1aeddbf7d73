/**
 * Time in tests, on a busy 2-core machine (CI, or two suites side by side: `npm run test:5x`).
 *
 * A test proves behaviour: which timer fired (by its error code), in what order, how many requests went where.
 * Where time itself is the point, a lower bound is safe (a timer never fires early) and an upper bound is the
 * configured limit plus SLACK_MS, or something the scenario makes far longer (a hang, a default timeout, a
 * cooldown) that the behaviour avoids. Speed is the bench's business (npm run bench), never a test's.
 */

/** How late a timer or an answer may be on a loaded machine before a test calls it wrong. */
export const SLACK_MS = 5_000;

/** Polls `condition` every 10 ms until it holds or `ms` have passed; says whether it held. */
export async function eventually(condition: () => boolean, ms = SLACK_MS): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
