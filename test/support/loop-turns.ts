/**
 * Counts the event loop's iterations until `stop`: a callback that reschedules itself with setImmediate runs once
 * per iteration, however fast the machine is (a 1 ms interval's ticks would depend on that).
 */
export function turnCounter(): { stop(): number } {
  let turns = 0;
  let on = true;
  const tick = (): void => {
    if (!on) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      on = false;
      return turns;
    },
  };
}
