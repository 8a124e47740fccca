/**
 * Quick-start worker: runs N parallel workers against a study with the SDK's
 * optimize() loop. The "training" is a deterministic stand-in with a learning
 * curve, so the example runs anywhere in seconds; replace `trainEpoch` with a
 * real training step.
 *
 *   node dist/examples/quickstart/worker.js [--study quickstart] [--workers 4] [--trials 40]
 */
import { parseArgs } from "node:util";
import { HpodClient, optimize, TrialPruned, type TrialContext } from "../../client/index.js";

const { values } = parseArgs({
  options: {
    study: { type: "string", default: "quickstart" },
    workers: { type: "string", default: "4" },
    trials: { type: "string", default: "40" },
    epochs: { type: "string", default: "10" },
  },
});

/** Validation loss after `epoch` epochs: converges towards a floor set by the hyperparameters. */
function trainEpoch(epoch: number, lr: number, layers: number, activation: string, dropout: number): number {
  const floor = (Math.log10(lr) + 2) ** 2 * 0.1 + Math.abs(layers - 3) * 0.05 + (activation === "relu" ? 0 : 0.03) + (dropout - 0.2) ** 2;
  const speed = Math.min(1, lr * 20);
  return floor + Math.exp(-speed * epoch);
}

async function objective(trial: TrialContext): Promise<number> {
  const p = trial.params;
  const lr = p.getFloat("lr");
  const layers = p.getInt("layers");
  const activation = p.getString("activation");
  const dropout = p.getFloat("dropout");
  let loss = Number.NaN;
  for (let epoch = 1; epoch <= Number(values.epochs); epoch++) {
    loss = trainEpoch(epoch, lr, layers, activation, dropout);
    if (await trial.report(epoch, loss)) throw new TrialPruned();
  }
  return loss;
}

const client = new HpodClient();
const result = await optimize(client, values.study, objective, {
  trials: Number(values.trials),
  concurrency: Number(values.workers),
  onTrialFinished: (t) => console.log(`trial ${t.trialId} (${t.workerId}): ${t.values.join(", ")}`),
});
const best = (await client.getBestTrials({ study: values.study })).trials[0];
console.log(`ran ${result.trials.length} trials; study done: ${result.studyDone}`);
if (best) console.log(`best trial ${best.id}: val_loss=${best.finalMeasurement?.values[0]}`);
client.close();
