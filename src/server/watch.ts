import { type FSWatcher, watch } from 'node:fs';

export interface FileWatcher {
  close(): void;
}

export interface WatchOptions {
  /** A burst of events (an editor's truncate, write, rename) becomes one call this long after the last. */
  debounceMs?: number;
  /** The file could not be watched (yet): it is looked for again every `debounceMs`. Told once per absence. */
  onMissing?: (err: unknown) => void;
}

/**
 * Calls `onChange` when the file at `path` changes, debounced. Editors and config tools often save by writing a
 * new file and renaming it over the old one (vim, a Kubernetes ConfigMap, `mv`): the watch then follows the old,
 * unlinked file and would hear nothing more, so on a rename it is re-armed on the path, and a file that is not
 * there yet is looked for again until it is.
 */
export function watchFile(path: string, onChange: () => void, options: WatchOptions = {}): FileWatcher {
  const debounceMs = options.debounceMs ?? 200;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let rearm: NodeJS.Timeout | undefined;
  let missing = false;
  let closed = false;

  const changed = (): void => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      if (!closed) onChange();
    }, debounceMs);
    debounce.unref();
  };
  const unwatch = (): void => {
    watcher?.close();
    watcher = undefined;
  };
  const armSoon = (ms: number): void => {
    clearTimeout(rearm);
    rearm = setTimeout(() => arm(true), ms);
    rearm.unref();
  };
  function arm(again: boolean): void {
    if (closed) return;
    try {
      watcher = watch(path, { persistent: false }, (event) => {
        changed();
        if (event === 'rename') {
          unwatch();
          armSoon(Math.min(50, debounceMs));
        }
      });
      watcher.on('error', () => {
        unwatch();
        changed();
        armSoon(debounceMs);
      });
    } catch (err) {
      if (!missing) options.onMissing?.(err);
      missing = true;
      armSoon(debounceMs);
      return;
    }
    // Back after a rename or an absence: what is there now may differ from what was read last.
    if (again) changed();
    missing = false;
  }

  arm(false);
  return {
    close() {
      closed = true;
      clearTimeout(debounce);
      clearTimeout(rearm);
      unwatch();
    },
  };
}
