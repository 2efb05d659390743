import { dicomDate, qidoSeriesUrl, searchSeries } from './pacs-series-search';

describe('QIDO-RS series search (lvseg backfill)', () => {
  it('builds the series query: modality, study date range, paging', () => {
    const url = new URL(qidoSeriesUrl('http://pacs:8042/dicom-web', { modality: 'MR', since: '2024-01-31' }, 500, 250));
    expect(url.pathname).toBe('/dicom-web/series');
    expect(Object.fromEntries(url.searchParams)).toEqual({ Modality: 'MR', StudyDate: '20240131-', includefield: '0020000D', limit: '250', offset: '500' });
    expect(new URL(qidoSeriesUrl('http://pacs/dicom-web', { modality: 'MR' }, 0, 10)).searchParams.has('StudyDate')).toBe(false);
  });

  it.each(['2024-02-30', '31.01.2024', '2024-1-31', 'yesterday'])('refuses --since %s with 400 INVALID_DATE', (text) => {
    expect(() => dicomDate(text)).toThrow(expect.objectContaining({ kind: 'invalid-input', code: 'INVALID_DATE' }));
  });

  it('reads every page until a short one, skipping entries without UIDs; errors name the operation only', async () => {
    const series = (n: number) => ({ '0020000D': { Value: ['1.2'] }, '0020000E': { Value: [`1.2.${n}`] }, '00080060': { Value: ['MR'] } });
    const pages = [[series(1), series(2)], [series(3), {}]];
    const offsets: string[] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      expect((init.headers as Record<string, string>).Authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
      const offset = new URL(url).searchParams.get('offset')!;
      offsets.push(offset);
      return new Response(JSON.stringify(pages[Number(offset) / 2] ?? []), { status: 200 });
    }) as unknown as typeof fetch;
    const found = [];
    for await (const page of searchSeries({ dicomWebUrl: 'http://pacs/dicom-web', credentials: { username: 'u', password: 'p' } }, { modality: 'MR' }, 2, fetchImpl)) found.push(...page);
    expect(found.map((s) => s.seriesInstanceUid)).toEqual(['1.2.1', '1.2.2', '1.2.3']);
    expect(offsets).toEqual(['0', '2', '4']);

    const refused = (async () => new Response('', { status: 401 })) as unknown as typeof fetch;
    await expect(searchSeries({ dicomWebUrl: 'http://pacs/dicom-web/studies/1.2.840' }, { modality: 'MR' }, 2, refused).next()).rejects.toMatchObject({ code: 'PACS_AUTH_FAILED', message: expect.not.stringContaining('1.2.840') });
  });
});
