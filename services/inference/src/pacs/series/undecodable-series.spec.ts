import { LvsegError } from '@lvseg/common';
import { undecodableSeries } from './series-segmentation.service';

describe('undecodableSeries (no image of a series decodes)', () => {
  const codecFailed = new LvsegError('invalid-input', 'DICOM_CODEC_FAILED', 'the compressed pixel data could not be decoded: bad SIZ');
  const unavailable = new LvsegError('unsupported', 'DICOM_CODEC_UNAVAILABLE', 'arithmetic-coded JPEG is not supported');

  it('is invalid-input (a permanent, 422-type failure) when a codec failed, with the count, the codes and the first reason', () => {
    const e = undecodableSeries([codecFailed, unavailable, codecFailed]);
    expect(e).toMatchObject({ kind: 'invalid-input', code: 'SERIES_UNDECODABLE' });
    expect(e.message).toBe('none of the 3 image(s) of the series could be decoded (DICOM_CODEC_FAILED, DICOM_CODEC_UNAVAILABLE): the compressed pixel data could not be decoded: bad SIZ');
  });

  it('is unsupported (415-type) when every image was refused as unsupported', () => {
    expect(undecodableSeries([unavailable, unavailable])).toMatchObject({ kind: 'unsupported', code: 'SERIES_UNDECODABLE' });
  });
});
