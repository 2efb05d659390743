import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths';
import { stripJsonComments } from './json-comments';

describe('stripJsonComments', () => {
  it('removes line and block comments but keeps comment-like text and escaped quotes inside strings', () => {
    const text = '{\n  // a line comment\n  "url": "http://host/a//b", /* block\n comment */ "q": "say \\"/* hi */\\"",\n  "n": 1 // end\n}';
    expect(JSON.parse(stripJsonComments(text))).toEqual({ url: 'http://host/a//b', q: 'say "/* hi */"', n: 1 });
  });

  it('an unterminated block comment swallows the rest instead of looping', () => {
    expect(stripJsonComments('{"a": 1} /* open')).toBe('{"a": 1} ');
  });

  it("parses the repository's Orthanc configuration (JSON with comments)", () => {
    const config = JSON.parse(stripJsonComments(readFileSync(join(repoRoot(), 'deploy', 'orthanc', 'orthanc.json'), 'utf8'))) as Record<string, unknown>;
    expect(config).toMatchObject({ Name: expect.any(String), DicomAet: expect.any(String) });
  });
});
