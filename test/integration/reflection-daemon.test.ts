/**
 * Server reflection on the real daemon, proven with `buf curl` (the stand-in
 * for grpcurl here): it lists services and methods through v1 and v1alpha and
 * calls API methods using only the descriptors reflection serves.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startDaemon, type Daemon } from "../helpers/daemon.js";

const BUF = join(ROOT, "node_modules", ".bin", "buf");
let d: Daemon;

beforeAll(async () => {
  d = await startDaemon();
});
afterAll(async () => {
  expect(await d.stop()).toBe(0);
});

function curl(args: string[]): string {
  return execFileSync(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { encoding: "utf8", timeout: 30_000 });
}

describe.each(["grpc-v1", "grpc-v1alpha"])("buf curl with reflection %s", (proto) => {
  it("lists services and methods", () => {
    const services = curl(["--reflect-protocol", proto, "--list-services", `http://${d.address}`]);
    expect(services).toContain("hpod.v1.HpodService");
    expect(services).toContain("hpod.v1.DiagnosticsService");
    expect(services).toContain("grpc.health.v1.Health");
    const methods = curl(["--reflect-protocol", proto, "--list-methods", `http://${d.address}`]);
    for (const m of ["CreateStudy", "Suggest", "Report", "WatchStudy", "GetBestTrials"]) expect(methods).toContain(`hpod.v1.HpodService/${m}`);
  });

  it("calls the API and health through reflection", () => {
    const name = `refl-${proto}`;
    const spec = {
      study: {
        name,
        spec: {
          searchSpace: { parameters: [{ name: "x", floatDomain: { low: 0, high: 1 } }] },
          objectives: [{ name: "loss", direction: "DIRECTION_MINIMIZE" }],
          algorithm: { name: "random" },
        },
      },
    };
    const created = JSON.parse(curl(["--reflect-protocol", proto, "-d", JSON.stringify(spec), `http://${d.address}/hpod.v1.HpodService/CreateStudy`])) as {
      study: { name: string; state: string };
      created: boolean;
    };
    expect(created.created).toBe(true);
    expect(created.study.state).toBe("STUDY_STATE_ACTIVE");
    const suggested = JSON.parse(curl(["--reflect-protocol", proto, "-d", JSON.stringify({ study: name }), `http://${d.address}/hpod.v1.HpodService/Suggest`])) as {
      trials: Array<{ id?: string; params: { x: { numberValue: number } } }>;
    };
    expect(suggested.trials[0]?.params.x.numberValue).toBeGreaterThanOrEqual(0);
    const health = JSON.parse(curl(["--reflect-protocol", proto, "-d", "{}", `http://${d.address}/grpc.health.v1.Health/Check`])) as { status: string };
    expect(health.status).toBe("SERVING");
  });
});
