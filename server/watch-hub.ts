/**
 * Fan-out of study events to WatchStudy streams. Events are published only
 * after the change they describe is durable.
 */
import type { Study, Trial } from "./core/model.js";
import type { TrialEventKind } from "./core/study-runtime.js";

export type WatchEvent =
  | { kind: TrialEventKind; trial: Trial }
  | { kind: "STUDY_UPDATED"; study: Study };

export interface WatchListener {
  onEvent(e: WatchEvent): void;
  /** The study is gone (deleted) or the daemon is shutting down. */
  onEnd(reason: "deleted" | "shutdown"): void;
}

export class WatchHub {
  private readonly listeners = new Map<string, Set<WatchListener>>();

  subscribe(study: string, l: WatchListener): () => void {
    let set = this.listeners.get(study);
    if (!set) this.listeners.set(study, (set = new Set()));
    set.add(l);
    return () => {
      set.delete(l);
      if (set.size === 0 && this.listeners.get(study) === set) this.listeners.delete(study);
    };
  }

  publish(study: string, events: readonly WatchEvent[]): void {
    const set = this.listeners.get(study);
    if (!set || events.length === 0) return;
    for (const l of [...set]) for (const e of events) l.onEvent(e);
  }

  end(study: string | undefined, reason: "deleted" | "shutdown"): void {
    const studies = study === undefined ? [...this.listeners.keys()] : [study];
    for (const s of studies) {
      const set = this.listeners.get(s);
      this.listeners.delete(s);
      for (const l of set ?? []) l.onEnd(reason);
    }
  }

  get size(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }
}
