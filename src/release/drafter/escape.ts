// `change-title-escapes`: each listed character in a title gets a backslash, except `@` and `#`,
// which get an empty HTML comment after them (`@<!---->`) so they do not become mentions or issue
// links. A backtick span (`like this`, on one line) is copied untouched unless the backtick itself
// is listed, in which case the backticks and everything between them are escaped like the rest.

import { escapeRegExp } from './template.js';

export function escapeTitle(title: string, escapes: string): string {
  // The listed characters come first in the alternation, so a listed backtick never opens a span.
  // An empty list gives `[]`, which matches nothing: only spans are matched (and kept).
  const pattern = new RegExp(`[${escapeRegExp(escapes)}]|\`.*?\``, 'g');
  return title.replace(pattern, (match) => {
    if (match.length > 1) return match;
    if (match === '@' || match === '#') return `${match}<!---->`;
    return `\\${match}`;
  });
}
