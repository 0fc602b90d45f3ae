/**
 * Plain terminal output for the sandbox: headings, indented lines, a one-line progress display for
 * waits, colours only when the stream is a terminal (and NO_COLOR is unset).
 */

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39]
} as const;
export type Style = keyof typeof CODES;

const PROGRESS_WIDTH = 20;
const SPINNER_MS = 120;

export interface Progress {
  /** Sets the shown counts (a bar appears when `total` is known). */
  update(done: number, total?: number): void;
  /** Removes the progress line (the caller then prints the outcome). */
  stop(): void;
}

export class Output {
  readonly interactive: boolean;
  private readonly stream: OutputStream;
  private readonly color: boolean;

  constructor(stream: OutputStream, options: { color?: boolean } = {}) {
    this.stream = stream;
    this.interactive = stream.isTTY === true;
    this.color = options.color ?? (this.interactive && !process.env.NO_COLOR);
  }

  paint(style: Style, text: string): string {
    if (!this.color) return text;
    const [on, off] = CODES[style];
    return `\u001b[${on}m${text}\u001b[${off}m`;
  }

  line(text = ''): void {
    this.stream.write(`${text}\n`);
  }

  heading(text: string): void {
    this.line();
    this.line(this.paint('bold', text));
  }

  item(text: string): void {
    this.line(`  ${text}`);
  }

  ok(text: string): void {
    this.item(`${this.paint('green', '✓')} ${text}`);
  }

  warn(text: string): void {
    this.item(`${this.paint('yellow', '!')} ${text}`);
  }

  fail(text: string): void {
    this.item(`${this.paint('red', '✗')} ${text}`);
  }

  skipped(text: string): void {
    this.item(this.paint('dim', `– skipped: ${text}`));
  }

  /**
   * A progress line rewritten in place on a terminal; elsewhere nothing is written, so logs and CI
   * output keep only the outcome lines.
   */
  progress(label: string): Progress {
    const started = Date.now();
    let done = 0;
    let total: number | undefined;
    const render = () => {
      const seconds = ((Date.now() - started) / 1_000).toFixed(1);
      let bar = '';
      if (total !== undefined && total > 0) {
        const filled = Math.round((Math.min(done, total) / total) * PROGRESS_WIDTH);
        bar = ` [${'#'.repeat(filled)}${'.'.repeat(PROGRESS_WIDTH - filled)}] ${done}/${total}`;
      }
      this.stream.write(`\r\u001b[2K  ${this.paint('cyan', '…')} ${label}${bar} ${seconds} s`);
    };
    const timer = this.interactive ? setInterval(render, SPINNER_MS) : null;
    timer?.unref();
    if (this.interactive) render();
    return {
      update: (value, of) => {
        const changed = value !== done || (of !== undefined && of !== total);
        done = value;
        if (of !== undefined) total = of;
        if (changed && this.interactive) render();
      },
      stop: () => {
        if (timer) clearInterval(timer);
        if (this.interactive) this.stream.write('\r\u001b[2K');
      }
    };
  }
}
