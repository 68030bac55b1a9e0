// Where each key of a TOML document is written, so validation errors can say `runway.toml:12`.
// smol-toml parses values but keeps no positions; this scanner only follows structure (table
// headers, arrays of tables, dotted keys, inline tables, arrays) to map key paths to line numbers.
// It runs on documents smol-toml already accepted, and gives up quietly on anything odd: a missing
// line only makes an error message less precise.

export type KeyPath = readonly (string | number)[];

/** Line (1-based) of the first place each key path is written. Array elements use their index. */
export function keyLines(source: string): Map<string, number> {
  return new Scanner(source).scan();
}

/** Line of `path`, or of its nearest written ancestor (a missing key points at its table). */
export function lineOf(lines: Map<string, number>, path: KeyPath): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const line = lines.get(path.slice(0, n).join('.'));
    if (line !== undefined) return line;
  }
  return undefined;
}

/** `app.checks[0].port`; segments that are not bare keys are quoted. */
export function formatKey(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const text = /^[A-Za-z0-9_-]+$/.test(seg) ? seg : JSON.stringify(seg);
      out += out ? `.${text}` : text;
    }
  }
  return out;
}

class Scanner {
  private i = 0;
  private line = 1;
  private readonly out = new Map<string, number>();
  /** Array-of-tables path (with parent indices) → index of its current element. */
  private readonly arrays = new Map<string, number>();

  constructor(private readonly src: string) {}

  scan(): Map<string, number> {
    let table: string[] = [];
    while (this.i < this.src.length) {
      this.skipBlank(true);
      if (this.i >= this.src.length) break;
      const start = this.i;
      if (this.src[this.i] === '[') {
        table = this.header();
      } else {
        const key = this.key();
        this.skipBlank(false);
        if (key.length > 0 && this.src[this.i] === '=') {
          this.i++;
          this.skipBlank(false);
          const path = [...table, ...key];
          this.record(path);
          this.value(path);
        }
      }
      if (this.i === start) this.skipLine();
    }
    return this.out;
  }

  private header(): string[] {
    const line = this.line;
    const isArray = this.src[this.i + 1] === '[';
    this.i += isArray ? 2 : 1;
    const segs = this.key();
    this.skipLine();
    const path: string[] = [];
    segs.forEach((seg, n) => {
      path.push(seg);
      const joined = path.join('.');
      if (isArray && n === segs.length - 1) {
        const index = (this.arrays.get(joined) ?? -1) + 1;
        this.arrays.set(joined, index);
        this.recordAt(path, line);
        path.push(String(index));
      } else {
        const index = this.arrays.get(joined);
        if (index !== undefined) path.push(String(index));
      }
      this.recordAt(path, line);
    });
    return path;
  }

  private value(path: string[]): void {
    const c = this.src[this.i];
    if (c === '{') {
      this.i++;
      for (;;) {
        this.skipBlank(true);
        const d = this.src[this.i];
        if (d === undefined) return;
        if (d === '}') return void this.i++;
        if (d === ',') {
          this.i++;
          continue;
        }
        const start = this.i;
        const key = this.key();
        this.skipBlank(false);
        if (key.length === 0 || this.src[this.i] !== '=') {
          if (this.i === start) this.i++;
          continue;
        }
        this.i++;
        this.skipBlank(false);
        const sub = [...path, ...key];
        this.record(sub);
        this.value(sub);
      }
    }
    if (c === '[') {
      this.i++;
      for (let index = 0; ;) {
        this.skipBlank(true);
        const d = this.src[this.i];
        if (d === undefined) return;
        if (d === ']') return void this.i++;
        if (d === ',') {
          this.i++;
          continue;
        }
        const start = this.i;
        const sub = [...path, String(index++)];
        this.record(sub);
        this.value(sub);
        if (this.i === start) this.i++;
      }
    }
    if (c === '"' || c === "'") return void this.string();
    while (this.i < this.src.length && !',]}\n#'.includes(this.src[this.i]!)) this.i++;
  }

  /** A possibly dotted, possibly quoted key; [] when there is none here. */
  private key(): string[] {
    const segs: string[] = [];
    for (;;) {
      this.skipBlank(false);
      const c = this.src[this.i];
      if (c === '"' || c === "'") segs.push(this.string());
      else {
        const m = /^[A-Za-z0-9_-]+/.exec(this.src.slice(this.i, this.i + 256));
        if (!m) return segs;
        segs.push(m[0]);
        this.i += m[0].length;
      }
      this.skipBlank(false);
      if (this.src[this.i] !== '.') return segs;
      this.i++;
    }
  }

  /** Skips a string of any of the four kinds and returns its text (escapes only roughly undone). */
  private string(): string {
    const q = this.src[this.i]!;
    const multi = this.src.startsWith(q.repeat(3), this.i);
    this.i += multi ? 3 : 1;
    let text = '';
    while (this.i < this.src.length) {
      const c = this.src[this.i]!;
      if (q === '"' && c === '\\') {
        text += this.src[this.i + 1] ?? '';
        if (this.src[this.i + 1] === '\n') this.line++;
        this.i += 2;
        continue;
      }
      if (multi ? this.src.startsWith(q.repeat(3), this.i) : c === q) {
        this.i += multi ? 3 : 1;
        // A multi-line string may end with up to two extra quotes that belong to its content.
        while (multi && this.src[this.i] === q) this.i++;
        return text;
      }
      if (c === '\n') {
        this.line++;
        if (!multi) return text;
      }
      text += c;
      this.i++;
    }
    return text;
  }

  private skipBlank(newlines: boolean): void {
    while (this.i < this.src.length) {
      const c = this.src[this.i]!;
      if (c === ' ' || c === '\t' || c === '\r') this.i++;
      else if (c === '#') {
        while (this.i < this.src.length && this.src[this.i] !== '\n') this.i++;
      } else if (c === '\n' && newlines) {
        this.line++;
        this.i++;
      } else return;
    }
  }

  private skipLine(): void {
    while (this.i < this.src.length && this.src[this.i] !== '\n') this.i++;
  }

  private record(path: string[]): void {
    for (let n = 1; n <= path.length; n++) this.recordAt(path.slice(0, n), this.line);
  }

  private recordAt(path: string[], line: number): void {
    const key = path.join('.');
    if (!this.out.has(key)) this.out.set(key, line);
  }
}
