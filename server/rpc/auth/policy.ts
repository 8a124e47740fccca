/**
 * Which role each RPC needs. Health is always open; reflection follows
 * --reflection; a method this table does not know needs admin (a new RPC is
 * closed until someone decides otherwise).
 */
import type { Role } from "./tokens.js";

export type ReflectionMode = "off" | "open" | "auth";
export type Requirement = Role | "open";

const HPOD = "/hpod.v1.HpodService/";
const TABLE: Record<string, Role> = {
  [`${HPOD}GetStudy`]: "read",
  [`${HPOD}ListStudies`]: "read",
  [`${HPOD}WatchStudy`]: "read",
  [`${HPOD}GetBestTrials`]: "read",
  [`${HPOD}GetTrial`]: "read",
  [`${HPOD}ListTrials`]: "read",
  [`${HPOD}CreateStudy`]: "write",
  [`${HPOD}UpdateStudy`]: "write",
  [`${HPOD}Suggest`]: "write",
  [`${HPOD}Report`]: "write",
  [`${HPOD}Heartbeat`]: "write",
  [`${HPOD}EnqueueTrial`]: "write",
  [`${HPOD}AddTrial`]: "write",
  [`${HPOD}DeleteStudy`]: "admin",
  "/hpod.v1.DiagnosticsService/Echo": "read",
  "/hpod.v1.AdminService/Backup": "admin",
};

export function requirement(path: string, reflection: ReflectionMode): Requirement {
  if (path.startsWith("/grpc.health.v1.Health/")) return "open";
  if (path.startsWith("/grpc.reflection.")) return reflection === "open" ? "open" : "read";
  return TABLE[path] ?? "admin";
}

/** Methods whose request names a study (or, for CreateStudy, carries one): checked per namespace. */
export const STUDY_SCOPED = Object.keys(TABLE).filter((p) => p.startsWith(HPOD) && !p.endsWith("/ListStudies"));
