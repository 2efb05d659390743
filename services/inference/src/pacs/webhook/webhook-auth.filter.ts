import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { WebhookAuthError } from './webhook-signature';

/**
 * Answers webhook authentication failures 401 in the service's error shape. Only this error class: every other
 * error falls through to the app's HttpErrorFilter. (The shared ErrorKind has no "unauthorized"; this keeps 401 local.)
 */
@Catch(WebhookAuthError)
export class WebhookAuthFilter implements ExceptionFilter {
  catch(e: WebhookAuthError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    res.locals.errorCode = e.code;
    res.status(401).set('WWW-Authenticate', 'X-Lvseg-Signature realm="lvseg-pacs-webhook"').json({ error: { code: e.code, message: e.message } });
  }
}
