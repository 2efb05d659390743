import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

// Nest's start-up chatter (one line per module and route) is debug, not info.
const CHATTY_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory']);

/** Nest's own log lines as pino JSON lines. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly pinoLog: Logger) {}

  log(message: unknown, context?: string): void {
    if (context && CHATTY_CONTEXTS.has(context)) this.pinoLog.debug({ context }, String(message));
    else this.pinoLog.info({ context }, String(message));
  }

  error(message: unknown, trace?: string, context?: string): void {
    this.pinoLog.error({ context, trace }, String(message));
  }

  warn(message: unknown, context?: string): void {
    this.pinoLog.warn({ context }, String(message));
  }

  debug(message: unknown, context?: string): void {
    this.pinoLog.debug({ context }, String(message));
  }

  verbose(message: unknown, context?: string): void {
    this.pinoLog.trace({ context }, String(message));
  }

  fatal(message: unknown, context?: string): void {
    this.pinoLog.fatal({ context }, String(message));
  }
}
