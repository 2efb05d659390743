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

  it('reads every page until an empty one, skipping entries without UIDs; errors name the operation only', async () => {
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

  const series = (n: number) => ({ '0020000D': { Value: ['1.2'] }, '0020000E': { Value: [`1.2.${n}`] }, '00080060': { Value: ['MR'] } });
  const read = async (fetchImpl: typeof fetch, pageSize: number) => {
    const found: string[] = [];
    for await (const page of searchSeries({ dicomWebUrl: 'http://pacs/dicom-web' }, { modality: 'MR' }, pageSize, fetchImpl)) found.push(...page.map((s) => s.seriesInstanceUid));
    return found;
  };

  it('reads on past a page the PACS capped below the limit asked (Orthanc LimitFindResults, a vendor maximum)', async () => {
    const archive = [1, 2, 3, 4, 5, 6, 7].map(series);
    const offsets: number[] = [];
    // Asked for 500 a page, the PACS gives at most 3.
    const capped = (async (url: string) => {
      const q = new URL(url).searchParams;
      const offset = Number(q.get('offset'));
      offsets.push(offset);
      return new Response(JSON.stringify(archive.slice(offset, offset + Math.min(3, Number(q.get('limit'))))), { status: 200 });
    }) as unknown as typeof fetch;
    expect(await read(capped, 500)).toEqual(['1.2.1', '1.2.2', '1.2.3', '1.2.4', '1.2.5', '1.2.6', '1.2.7']);
    expect(offsets).toEqual([0, 3, 6, 7]);
  });

  it('ends when the PACS ignores the offset (the same series again), each series once', async () => {
    let calls = 0;
    const noPaging = (async () => {
      calls++;
      return new Response(JSON.stringify([series(1), series(2)]), { status: 200 });
    }) as unknown as typeof fetch;
    expect(await read(noPaging, 2)).toEqual(['1.2.1', '1.2.2']);
    expect(calls).toBe(2);
    // 204 No Content is an empty result.
    expect(await read((async () => new Response(null, { status: 204 })) as unknown as typeof fetch, 2)).toEqual([]);
  });
});
