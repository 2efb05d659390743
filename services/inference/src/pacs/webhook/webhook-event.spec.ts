import { isLvsegError } from '@lvseg/common';
import { parseWebhookEvent } from './webhook-event';

const event = {
  id: 'orthanc-1966cc7e-4a8ef29d-f50385f4-256ea55a-f56bab48-1796188791',
  kind: 'instance.stored',
  resource: { type: 'instance', pacsId: '1966cc7e-4a8ef29d-f50385f4-256ea55a-f56bab48', studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', sopInstanceUid: '1.2.3.4.5', modality: 'MR' },
};
const parse = (v: unknown) => parseWebhookEvent(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)));

describe('parseWebhookEvent', () => {
  it('reads the event the Orthanc Lua script sends', () => {
    expect(parse(event)).toEqual(event);
    // Leading zeros (invalid, but in real archives such as the Sunnybrook data) are accepted.
    const zeros = { ...event, resource: { ...event.resource, studyInstanceUid: '2.16.124.113543.6006.99.06074982333824222391' } };
    expect(parse(zeros)).toEqual(zeros);
    expect(parse({ id: 'x', kind: 'series.stable', resource: { studyInstanceUid: '1.2', seriesInstanceUid: '1.3' } })).toEqual({
      id: 'x',
      kind: 'series.stable',
      resource: { type: 'series', studyInstanceUid: '1.2', seriesInstanceUid: '1.3' },
    });
  });

  it.each([
    ['not json', /not JSON/],
    [[], /JSON object/],
    [{ ...event, id: 'has space' }, /"id" must be a token/],
    [{ ...event, kind: 'deleted' }, /"kind" must be/],
    [{ ...event, resource: null }, /"resource" must be an object/],
    [{ ...event, resource: { ...event.resource, seriesInstanceUid: '1..2' } }, /"resource.seriesInstanceUid" must be a DICOM UID/],
    [{ ...event, resource: { ...event.resource, studyInstanceUid: undefined } }, /"resource.studyInstanceUid"/],
    [{ ...event, resource: { ...event.resource, modality: 'mr;drop' } }, /modality code/],
    [{ ...event, resource: { ...event.resource, type: 'study' } }, /"resource.type"/],
  ])('refuses %j with a 400 naming the problem', (body, message) => {
    let error: unknown;
    try {
      parse(body);
    } catch (e) {
      error = e;
    }
    expect(isLvsegError(error, 'invalid-input')).toBe(true);
    expect((error as { code: string }).code).toBe('WEBHOOK_EVENT_INVALID');
    expect((error as Error).message).toMatch(message);
  });
});
