export { ANONYMOUS, SYSTEM, isPrincipal, type Principal } from './principal.ts';
export { DEFAULT_MAX_AGE_MS, PRINCIPAL_HEADER, SIGNATURE_HEADER, deriveKey, signPrincipal, verifyPrincipal, type VerifyResult } from './sign.ts';
export { principalOf, usePrincipalGuard } from './use-principal-guard.ts';
export {
  API_KEY_HEADER, CLIENT_IP_HEADER, METADATA_ENDPOINT, PRINCIPAL_ENDPOINT, credentialsOf, hasCredentials,
  type AuthFailure, type Credentials, type Resolution,
} from './credentials.ts';
