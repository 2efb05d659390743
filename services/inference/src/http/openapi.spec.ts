import { ERROR_EXAMPLES, refineOpenApi } from './openapi';

describe('refineOpenApi', () => {
  const errorSchema = { $ref: '#/components/schemas/ErrorResponseDto' };
  const doc = () =>
    ({
      openapi: '3.0.0',
      info: { title: 't', version: '1' },
      paths: {
        '/segment': {
          post: {
            requestBody: { required: true, content: { 'application/dicom': { schema: { oneOf: [] } }, 'multipart/form-data': { schema: { oneOf: [] } } } },
            responses: { '200': { description: 'ok', content: { 'application/json': { schema: {} } } }, '415': { description: 'x', content: { 'application/json': { schema: errorSchema } } }, '503': { description: 'y', content: { 'application/json': { schema: errorSchema } } } },
          },
        },
        '/models/{ref}': { get: { responses: { '404': { description: 'z', content: { 'application/json': { schema: errorSchema } } } } } },
      },
    }) as never;

  it('gives POST /segment a file upload under each content type (no oneOf text box)', () => {
    const body = (refineOpenApi(doc()).paths['/segment'].post as unknown as { requestBody: { required: boolean; content: Record<string, { schema: Record<string, unknown> }> } }).requestBody;
    expect(body.required).toBe(true);
    expect(Object.keys(body.content).sort()).toEqual(['application/dicom', 'application/octet-stream', 'multipart/form-data']);
    expect(body.content['application/dicom'].schema).toMatchObject({ type: 'string', format: 'binary' });
    expect(body.content['application/octet-stream'].schema).toMatchObject({ type: 'string', format: 'binary' });
    expect(body.content['multipart/form-data'].schema).toMatchObject({ type: 'object', required: ['file'], properties: { file: { format: 'binary' }, label: { format: 'binary' } } });
    expect(JSON.stringify(body)).not.toContain('oneOf');
  });

  it('shows an example of its own for each error status, and leaves success answers alone', () => {
    const d = refineOpenApi(doc());
    const responses = (d.paths['/segment'].post as unknown as { responses: Record<string, { content: Record<string, { example?: unknown }> }> }).responses;
    expect(responses['415'].content['application/json'].example).toEqual({ error: ERROR_EXAMPLES['415'] });
    expect(responses['503'].content['application/json'].example).toEqual({ error: { code: 'QUEUE_FULL', message: expect.stringMatching(/queue is full/) } });
    expect(responses['200'].content['application/json'].example).toBeUndefined();
    const examples = Object.values(ERROR_EXAMPLES).map((e) => e.code);
    expect(new Set(examples).size).toBe(examples.length);
  });
});
