/** Injection tokens of the PACS integration's outside things (each behind an interface). */
export const PACS_CONFIG = Symbol('PACS_CONFIG');
export const PACS_CLIENT = Symbol('PACS_CLIENT');
export const PACS_CHANGE_FEED = Symbol('PACS_CHANGE_FEED');
export const PACS_STATE = Symbol('PACS_STATE');
export const PACS_TIMING = Symbol('PACS_TIMING');
