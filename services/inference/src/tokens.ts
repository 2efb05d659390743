/** Injection tokens for the outside things the inference service talks to (each behind an interface). */
export const INFERENCE_CONFIG = Symbol('INFERENCE_CONFIG');
export const MODEL_STORE = Symbol('MODEL_STORE');
export const ENGINE_FACTORY = Symbol('ENGINE_FACTORY');
export const APP_LOGGER = Symbol('APP_LOGGER');
/** The EngineChoice: which runtime serves the mask path, and why. */
export const ENGINE_CHOICE = Symbol('ENGINE_CHOICE');
/** The Authenticator built from `config.auth` (API keys, OIDC). */
export const AUTHENTICATOR = Symbol('AUTHENTICATOR');
