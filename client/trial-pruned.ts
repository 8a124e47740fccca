/**
 * Thrown by an objective to stop a trial the daemon decided to prune.
 */

/**
 * Throw this from an objective after {@link TrialContext.report} returned
 * true (a PRUNE decision). `optimize` then sends nothing more for the trial:
 * the daemon has already recorded it as PRUNED.
 *
 * ```ts
 * if (await trial.report(epoch, loss)) throw new TrialPruned();
 * ```
 */
export class TrialPruned extends Error {
  constructor(message = "trial pruned") {
    super(message);
    this.name = "TrialPruned";
  }
}
