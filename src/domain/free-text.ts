// Free text people and events hand to runway — reasons, release names, images, notes — is shown in
// terminals, logs and the dashboard. Control characters in it could rewrite a terminal (ANSI escape
// sequences, carriage returns that hide what came before), so they are refused where text comes in,
// and escaped wherever text goes out to a terminal (text stored before this check, or from events
// runway does not refuse, such as a commit message).

// C0 controls (but tab and newline, allowed where text may have several lines), DEL, C1 controls,
// and the Unicode line/paragraph separators and bidirectional overrides that reorder what is shown.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_SINGLE_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

export class FreeTextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FreeTextError';
  }
}

/** The first control character in `text`, as a code (e.g. `U+001B`), or undefined. */
export function controlCharacter(text: string, options: { multiline?: boolean } = {}): string | undefined {
  const m = (options.multiline ? CONTROL : CONTROL_SINGLE_LINE).exec(text);
  return m ? `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** Refuse text with control characters, naming the field and the character (never echoing the text). */
export function checkFreeText(
  field: string,
  text: string | null | undefined,
  options: { multiline?: boolean } = {},
): void {
  if (text === null || text === undefined) return;
  const found = controlCharacter(text, options);
  if (found) {
    throw new FreeTextError(
      `${field} contains a control character (${found}); use plain text${options.multiline ? ' (newlines and tabs are fine)' : ' on one line'}`,
    );
  }
}

/** Text made safe for a terminal: every control character becomes a visible escape (`\x1b`, `\u202e`). */
export function escapeTerminal(text: string, options: { multiline?: boolean } = {}): string {
  const pattern = new RegExp((options.multiline ? CONTROL : CONTROL_SINGLE_LINE).source, 'g');
  return text.replace(pattern, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
