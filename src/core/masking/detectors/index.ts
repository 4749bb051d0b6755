/**
 * The built-in detectors, one per detected data class.
 */
import type { Detector } from '../types.ts';
import { abaRouting } from './us_aba_routing.ts';
import { awsAccessKey } from './aws_access_key.ts';
import { email } from './email.ts';
import { iban } from './iban.ts';
import { jwt } from './jwt.ts';
import { paymentCard } from './payment_card.ts';
import { pemPrivateKey } from './pem_private_key.ts';
import { phone } from './phone.ts';
import { usSsn } from './us_ssn.ts';

export { createPhoneDetector } from './phone.ts';
export { abaRouting, awsAccessKey, email, iban, jwt, paymentCard, pemPrivateKey, phone, usSsn };

/**
 * Order matters only for overlaps (see engine's span merging): the more
 * specific shapes come first so that a card number is counted as a card, not
 * as a phone number that happens to fit inside it.
 */
export const DEFAULT_DETECTORS: readonly Detector[] = [pemPrivateKey, jwt, awsAccessKey, paymentCard, iban, usSsn, abaRouting, email, phone];
