import type { PasswordPolicy } from '@objectos/metadata';

/** Every way `password` breaks the policy, in words a user can act on; empty when it complies. */
export function passwordProblems(password: string, policy: PasswordPolicy): string[] {
  const problems: string[] = [];
  if ([...password].length < policy.minLength) problems.push(`at least ${policy.minLength} characters`);
  if (policy.requireUppercase && !/\p{Lu}/u.test(password)) problems.push('an upper-case letter');
  if (policy.requireLowercase && !/\p{Ll}/u.test(password)) problems.push('a lower-case letter');
  if (policy.requireNumbers && !/\p{Nd}/u.test(password)) problems.push('a digit');
  if (policy.requireSymbols && !/[^\p{L}\p{Nd}\s]/u.test(password)) problems.push('a symbol');
  return problems;
}
