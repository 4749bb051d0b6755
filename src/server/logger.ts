import { pino } from 'pino';
import type { Logger } from '../core/logger.ts';

/**
 * Structured JSON logs on stderr (stdout stays for command output). Known
 * secret-bearing keys are redacted as a second line of defence: code never
 * logs them on purpose.
 */
export function createLogger(level: string, destination: number = 2): Logger {
  return pino(
    {
      level,
      base: { svc: 'gatehouse' },
      redact: {
        paths: ['password', 'token', 'secret', '*.password', '*.token', '*.secret', 'headers.authorization'],
        censor: '[redacted]',
      },
      serializers: { err: pino.stdSerializers.err },
    },
    pino.destination({ fd: destination, sync: false }),
  ) as unknown as Logger;
}
