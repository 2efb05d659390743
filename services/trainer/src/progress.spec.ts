import { Writable } from 'node:stream';
import { evalProgress } from './progress';

/** A stream that keeps what is written to it, as a terminal (`isTTY`) or as a pipe or log file. */
function captured(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY, columns: 120, rows: 40 });
  return { stream, text: () => text };
}

const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

describe('evalProgress (lvseg eval)', () => {
  it('not on a terminal: one starting line with the image count, no bar and nothing per image', () => {
    const out = captured(false);
    const report = evalProgress('eval production on val', out.stream);
    report(0, 266);
    for (let done = 16; done <= 266; done += 16) report(done, 266);
    report(266, 266);
    expect(out.text()).toBe('eval production on val: segmenting 266 images\n');
  });

  it('on a terminal: a bar of images segmented with the count and an estimate, removed when done', async () => {
    const out = captured(true);
    const report = evalProgress('eval production on val', out.stream);
    report(0, 40);
    try {
      report(16, 40);
      // cli-progress redraws on its own timer (at most 10 times a second): wait for the drawing, however busy the machine.
      while (!plain(out.text()).includes('16/40 images')) await new Promise((r) => setTimeout(r, 20));
      expect(plain(out.text())).toMatch(/eval production on val \[[^\]]+\] 16\/40 images {2}\S+ left/);
    } finally {
      report(40, 40);
    }
    // Done: the bar stops (its timer too, or jest would not exit), the cursor is shown again and the line is wiped
    // (clearOnComplete), so the table that follows starts on a clean line rather than after a finished bar.
    expect(out.text()).toContain('\x1b[?25h');
    expect(out.text()).toMatch(/\x1b\[2K$/);
  });
});
