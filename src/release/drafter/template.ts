// `$TOKEN` substitution as Release Drafter does it: a token is `$` followed by upper-case letters and
// underscores (the longest such run). A token with no value is left verbatim. A value may itself be a
// template with its own variables (how `$NEXT_PATCH_VERSION` renders the version-template). Values
// are inserted literally and are not scanned again in the same pass.

import type { Replacer } from './types.js';

export interface NestedTemplate {
  template: string;
  vars: TemplateVars;
}

export type TemplateValue = string | number | NestedTemplate | null | undefined;
export type TemplateVars = Readonly<Record<string, TemplateValue>>;

const TOKEN = /\$[A-Z_]+/g;

export function renderTemplate(text: string, vars: TemplateVars, replacers: readonly Replacer[] = []): string {
  let out = text.replace(TOKEN, (token) => {
    const value = Object.hasOwn(vars, token) ? vars[token] : undefined;
    if (value === undefined || value === null) return token;
    if (typeof value === 'object') return renderTemplate(value.template, value.vars);
    return String(value);
  });
  // Replacers see the text after this pass; `replace` uses String.prototype.replace patterns ($1, $&).
  for (const { search, replace } of replacers) {
    search.lastIndex = 0;
    out = out.replace(search, replace);
  }
  return out;
}

/** Characters escape-string-regexp escapes, so the text can sit inside a RegExp (or a class). */
export function escapeRegExp(text: string): string {
  return text.replace(/[|\\{}()[\]^$+*?.]/g, '\\$&').replace(/-/g, '\\x2d');
}

/**
 * A replacer's `search`: `/pattern/flags` is a regular expression, anything else is literal text
 * replaced everywhere. Throws on a pattern JavaScript rejects (the caller drops that replacer).
 */
export function searchToRegExp(search: string): RegExp {
  if (!/^\/.+\/[AJUXgimsux]*$/.test(search)) return new RegExp(escapeRegExp(search), 'g');
  const m = /(\/?)(.+)\1([a-z]*)/i.exec(search);
  if (!m) return new RegExp(escapeRegExp(search), 'g');
  const [, , pattern = '', flags = ''] = m;
  // Repeated or unknown flags: the whole text is taken as the pattern (regex-parser's rule).
  if (flags && !/^(?!.*?(.).*?\1)[gmixXsuUAJ]+$/.test(flags)) return new RegExp(search);
  return new RegExp(pattern, flags);
}
