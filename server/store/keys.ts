/**
 * LevelDB key layout. Keys are UTF-8 strings; NUL separates parts because no
 * study name (see core/validate) can hold it. Numbers are zero-padded so the
 * lexicographic order of keys is the numeric order of ids and steps.
 *
 *   meta\0schema_version            -> "1"
 *   s\0<study>                      -> study record (JSON)
 *   t\0<study>\0<id:12>             -> trial record without intermediates (JSON)
 *   m\0<study>\0<id:12>\0<step:16>  -> intermediate measurement (JSON)
 */
const SEP = "\u0000";
const ID_WIDTH = 12;
const STEP_WIDTH = 16;

export const SCHEMA_VERSION_KEY = `meta${SEP}schema_version`;
export const PROBE_KEY = `meta${SEP}probe`;

const pad = (n: number, width: number): string => n.toString().padStart(width, "0");

export const studyKey = (study: string): string => `s${SEP}${study}`;
export const trialKey = (study: string, id: number): string => `t${SEP}${study}${SEP}${pad(id, ID_WIDTH)}`;
export const measurementKey = (study: string, id: number, step: number): string =>
  `m${SEP}${study}${SEP}${pad(id, ID_WIDTH)}${SEP}${pad(step, STEP_WIDTH)}`;

/** [gte, lt) bounds of every key of one kind; `study` narrows to one study. */
export function range(kind: "s" | "t" | "m", study?: string): { gte: string; lt: string } {
  const prefix = study === undefined ? `${kind}${SEP}` : `${kind}${SEP}${study}${SEP}`;
  return { gte: prefix, lt: prefix + "\uffff" };
}

/** Splits a trial or measurement key into its parts. */
export function parseKey(key: string): { kind: string; study: string; id?: number; step?: number } {
  const [kind = "", study = "", id, step] = key.split(SEP);
  const out: { kind: string; study: string; id?: number; step?: number } = { kind, study };
  if (id !== undefined) out.id = Number(id);
  if (step !== undefined) out.step = Number(step);
  return out;
}
