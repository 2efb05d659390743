import { loggedUrl } from './request-logging';

describe('loggedUrl (the url field of the request log)', () => {
  it('keeps the path and the query parameter names, never their values', () => {
    expect(loggedUrl('/segment')).toBe('/segment');
    expect(loggedUrl('/jobs?study=1.2.840.1&series=1.2.840.1.2&limit=5')).toBe('/jobs?study=…&series=…&limit=…');
    expect(loggedUrl('/registry/production/promote?version=v1&reason=Dr%20Smith%20asked')).toBe('/registry/production/promote?version=…&reason=…');
    expect(loggedUrl('/jobs?study=1&study=2')).toBe('/jobs?study=…');
    expect(loggedUrl('/metrics?')).toBe('/metrics');
    expect(loggedUrl(`/x?${'a'.repeat(400)}=1`)).toHaveLength(300);
  });
});
