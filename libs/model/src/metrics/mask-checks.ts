import type { BinaryMask } from '@lvseg/imaging';
import { LvsegError } from '@lvseg/common';

/** Throws `invalid-input` unless `mask` has integer non-negative dimensions and `rows * columns` pixels. */
export function assertValidMask(mask: BinaryMask, name = 'mask'): void {
  const { rows, columns, data } = mask;
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 0 || columns < 0) {
    throw new LvsegError('invalid-input', 'MASK_INVALID_SIZE', `${name} has invalid size ${rows} x ${columns}`);
  }
  if (!(data instanceof Uint8Array) || data.length !== rows * columns) {
    throw new LvsegError(
      'invalid-input',
      'MASK_DATA_LENGTH',
      `${name} is ${rows} x ${columns} but holds ${data?.length} pixels`,
    );
  }
}

/** Throws `invalid-input` unless both masks are valid and have the same rows and columns. */
export function assertSameSize(a: BinaryMask, b: BinaryMask, nameA = 'prediction', nameB = 'truth'): void {
  assertValidMask(a, nameA);
  assertValidMask(b, nameB);
  if (a.rows !== b.rows || a.columns !== b.columns) {
    throw new LvsegError(
      'invalid-input',
      'MASK_SIZE_MISMATCH',
      `${nameA} is ${a.rows} x ${a.columns} but ${nameB} is ${b.rows} x ${b.columns}`,
    );
  }
}
