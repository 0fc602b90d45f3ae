/** A small RFC 4180 reader that can stop and resume (Bulk jobs parse in slices) and a writer. */

export const DELIMITERS: Record<string, string> = {
  COMMA: ',',
  TAB: '\t',
  PIPE: '|',
  SEMICOLON: ';',
  CARET: '^',
  BACKQUOTE: '`'
};

export class CsvReader {
  private pos = 0;
  private readonly text: string;
  private readonly delimiter: string;

  constructor(text: string, delimiter = ',') {
    // A UTF-8 byte order mark is not part of the first column name.
    this.text = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    this.delimiter = delimiter;
  }

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  /** The next row, or null at the end; throws on an unterminated quoted field. */
  next(): string[] | null {
    const text = this.text;
    if (this.pos >= text.length) return null;
    const row: string[] = [];
    let i = this.pos;
    for (;;) {
      let cell: string;
      if (text[i] === '"') {
        let j = i + 1;
        cell = '';
        for (;;) {
          const q = text.indexOf('"', j);
          if (q === -1) throw new Error(`unterminated quoted field at offset ${i}`);
          cell += text.slice(j, q);
          if (text[q + 1] === '"') {
            cell += '"';
            j = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
      } else {
        let j = i;
        while (j < text.length) {
          const c = text[j];
          if (c === this.delimiter || c === '\n' || c === '\r') break;
          j++;
        }
        cell = text.slice(i, j);
        i = j;
      }
      row.push(cell);
      const c = text[i];
      if (c === this.delimiter) {
        i++;
        continue;
      }
      if (c === '\r') i++;
      if (text[i] === '\n') i++;
      break;
    }
    this.pos = i;
    return row;
  }
}

const NEEDS_QUOTES = /[",\r\n|;^`\t]/;

export function quoteAlways(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

export function quoteIfNeeded(value: string): string {
  return NEEDS_QUOTES.test(value) ? quoteAlways(value) : value;
}
