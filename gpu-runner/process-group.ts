/**
 * Process groups of local trials: each trial is spawned detached (its own
 * session and process group, pgid = its pid), so a stop reaches every process
 * it started: SIGTERM to the group, SIGKILL after a grace period.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Whether `kill -0 -pgid` finds the group: true while any member exists, zombies included. */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours (cannot happen for our own children).
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether any process of group `pgid` is still running. A group whose members
 * are all zombies (dead, waiting for an init that reaps orphans late) counts
 * as gone. Without /proc it is `kill -0 -pgid`.
 */
export function groupAlive(pgid: number): boolean {
  if (!groupExists(pgid)) return false;
  const members = groupMembers(pgid);
  if (members === undefined) return true;
  return members.some((m) => m.state !== "Z" && m.state !== "X");
}

/** Sends `signal` to the group; false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until the group is gone or `timeoutMs` passed; resolves to whether it is gone. */
export async function waitGroupGone(pgid: number, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}

/**
 * SIGTERM (and SIGCONT, so stopped processes see it) to the group, then
 * SIGKILL once `graceMs` passed with any member still alive. Resolves when
 * the group is gone (or SIGKILL was sent and 2 s more passed).
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<"gone" | "terminated" | "killed"> {
  if (!groupAlive(pgid)) return "gone";
  signalGroup(pgid, "SIGTERM");
  signalGroup(pgid, "SIGCONT");
  if (await waitGroupGone(pgid, graceMs)) return "terminated";
  signalGroup(pgid, "SIGKILL");
  await waitGroupGone(pgid, 2000);
  return "killed";
}

/** The processes of group `pgid` with their state letter (R, S, Z, ...), from Linux /proc; undefined without /proc. */
export function groupMembers(pgid: number): Array<{ pid: number; state: string }> | undefined {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const members: Array<{ pid: number; state: string }> = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) members.push({ pid: Number(name), state: fields[0] });
    } catch {
      /* exited meanwhile */
    }
  }
  return members;
}

/**
 * Whether group `pgid` is alive and one of its processes runs with all of
 * `env` in its environment (Linux /proc). Used before killing a group left
 * by an earlier runner, so a recycled id is never hit.
 */
export function groupHasEnv(pgid: number, env: Readonly<Record<string, string>>): boolean {
  return (groupMembers(pgid) ?? []).some((m) => m.state !== "Z" && processHasEnv(m.pid, env));
}

/** Whether process `pid` runs with all of `env` in its environment; false when unreadable. */
export function processHasEnv(pid: number, env: Readonly<Record<string, string>>): boolean {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, "latin1");
  } catch {
    return false;
  }
  const entries = new Set(raw.split("\0"));
  return Object.entries(env).every(([k, v]) => entries.has(`${k}=${v}`));
}
