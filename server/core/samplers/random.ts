/**
 * Independent uniform sampling: the baseline every other algorithm must beat,
 * and a sound choice for wide spaces with few trials.
 */
import { createRng } from "../rng.js";
import type { FlatParams } from "../space.js";
import { fromUnit } from "./domain-map.js";
import type { SampleContext, SampleResult, Sampler } from "./sampler.js";
import { STREAM_RANDOM } from "./streams.js";

export class RandomSampler implements Sampler {
  readonly name = "random";

  sample(ctx: SampleContext): SampleResult {
    // One generator per (seed, trial id): the suggestion does not depend on
    // which other trials exist or when the request arrives.
    const rng = createRng(ctx.seed, ctx.trialId, STREAM_RANDOM);
    const flat: FlatParams = {};
    for (const dim of ctx.space.dims) {
      // Draw for inactive dimensions too, so each dimension always consumes
      // the same draw: a value then depends only on (seed, trial, dimension),
      // not on which branches of the space the trial took.
      const u = rng.next();
      if (ctx.space.isActive(dim, flat)) flat[dim.name] = fromUnit(u, dim.domain);
    }
    return { kind: "params", flat };
  }
}
