/**
 * The trial command template: `python train.py --lr {lr} --bs {batch_size}`.
 *
 * - `{name}` is replaced by the parameter's value, shell-quoted (the command
 *   runs under `/bin/sh -c`): numbers in JavaScript's shortest round-trip form
 *   (`0.001`, `1e-7`), booleans as `true`/`false`, strings as they are, a
 *   learning-rate schedule as its JSON (see trial-params.ts).
 * - A parameter that is inactive in a trial (its condition is not met)
 *   renders as an empty argument `''`.
 * - `{{` and `}}` stand for literal braces; `${VAR}` is left to the shell, as
 *   is any brace group that is not `{name}` (e.g. `{a,b}`).
 * - A placeholder naming no parameter of the study is an error found before
 *   any trial starts.
 */
import type { PlainParam } from "./trial-params.js";

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

type Part = { text: string } | { param: string };

export interface CommandTemplate {
  readonly source: string;
  readonly parts: readonly Part[];
  /** Placeholder names in order of first use. */
  readonly placeholders: readonly string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Splits a template into text and placeholders. */
export function parseTemplate(source: string): CommandTemplate {
  if (source.trim() === "") throw new TemplateError("the command is empty");
  const parts: Part[] = [];
  const placeholders: string[] = [];
  let text = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if ((c === "{" || c === "}") && source[i + 1] === c) {
      text += c;
      i += 2;
      continue;
    }
    if (c === "{" && source[i - 1] !== "$") {
      const close = source.indexOf("}", i + 1);
      const name = close < 0 ? "" : source.slice(i + 1, close);
      if (close >= 0 && NAME.test(name)) {
        if (text !== "") parts.push({ text });
        text = "";
        parts.push({ param: name });
        if (!placeholders.includes(name)) placeholders.push(name);
        i = close + 1;
        continue;
      }
    }
    text += c;
    i++;
  }
  if (text !== "") parts.push({ text });
  return { source, parts, placeholders };
}

/** Throws a TemplateError naming every placeholder that is not a parameter. */
export function checkPlaceholders(template: CommandTemplate, study: string, parameterNames: readonly string[]): void {
  const known = new Set(parameterNames);
  const unknown = template.placeholders.filter((p) => !known.has(p));
  if (unknown.length === 0) return;
  const list = unknown.map((p) => `{${p}}`).join(", ");
  const names = parameterNames.length > 0 ? parameterNames.join(", ") : "none";
  throw new TemplateError(
    `--command: unknown placeholder${unknown.length > 1 ? "s" : ""} ${list}: study "${study}" has the parameters ${names} ` +
      `(write {{ and }} for literal braces)`,
  );
}

/** Quotes a word for /bin/sh: unchanged when it is made of safe characters, else in single quotes. */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The text a parameter value stands for in a command (before quoting). */
export function paramText(value: PlainParam | undefined): string {
  if (value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The command for one trial. */
export function renderCommand(template: CommandTemplate, params: Readonly<Record<string, PlainParam>>): string {
  return template.parts.map((p) => ("text" in p ? p.text : shellQuote(paramText(params[p.param])))).join("");
}
