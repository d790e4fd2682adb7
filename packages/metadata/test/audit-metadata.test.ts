import { describe, expect, it } from 'vitest';
import { loadMetadata, parseMetadata } from '../src/index.ts';
import { issuesOf, sources } from './security-fixture.ts';
import { REPO_ROOT } from '@objectos/testkit';

/** Spec AuditConfig in `*.audit.yaml`: defaults when absent, every mistake located. */
describe('audit configuration (*.audit.yaml)', () => {
  it('applies the spec defaults when there is none: every event type, info and up, 180 days', () => {
    const model = parseMetadata(sources({}));
    expect(model.audit).toMatchObject({ name: 'spec_default', enabled: true, eventTypes: [], minimumSeverity: 'info', logReads: false, readSamplingRate: 0.1 });
    expect(model.audit.redactFields).toEqual(['password', 'token', 'apiKey', 'secret', 'ssn']);
    expect(model.audit.retentionPolicy).toEqual({ retentionDays: 180, minimumRetentionDays: 30, customRetention: {}, archiveAfterRetention: false });
  });

  it('reads the demo metadata’s configuration', async () => {
    const { audit } = await loadMetadata(`${REPO_ROOT}metadata`);
    expect(audit).toMatchObject({ name: 'crm_audit', eventTypes: ['data.*', 'auth.*', 'authz.*', 'security.*', 'system.config_changed', 'system.integration_added', 'system.integration_removed', 'job.*', 'automation.*'] });
    expect(audit.retentionPolicy.customRetention).toEqual({ 'auth.*': 180, 'security.*': 730 });
    expect(audit.suspiciousActivityRules).toEqual([{ name: 'repeated_failed_sign_in', eventType: 'auth.login_failed', threshold: 5, windowSeconds: 300, actions: ['alert', 'lock_account'], lockMinutes: 15 }]);
  });

  const cases: { name: string; yaml: string; path: string; message: RegExp; line?: number; extra?: Record<string, string> }[] = [
    { name: 'unknown event type', yaml: 'name: a\neventTypes: [auth.login, auth.sign_in]\n', path: 'eventTypes.1', line: 2, message: /unknown audit event type "auth\.sign_in" \(an event type such as auth\.login, or a category: data\.\*, auth\.\*/ },
    { name: 'unknown category', yaml: 'name: a\neventTypes: [billing.*]\n', path: 'eventTypes.0', message: /unknown audit event type "billing\.\*"/ },
    { name: 'unknown severity', yaml: 'name: a\nminimumSeverity: loud\n', path: 'minimumSeverity', line: 2, message: /unknown severity "loud" \(debug, info, notice/ },
    { name: 'retention below the minimum', yaml: 'name: a\nretentionPolicy:\n  retentionDays: 10\n  minimumRetentionDays: 30\n', path: 'retentionPolicy.retentionDays', message: /retentionDays \(10\) is below minimumRetentionDays \(30\)/ },
    { name: 'custom retention below the minimum', yaml: 'name: a\nretentionPolicy:\n  customRetention:\n    auth.*: 7\n', path: 'retentionPolicy.customRetention.auth.*', message: /auth\.\* keeps 7 days, below minimumRetentionDays \(30\)/ },
    { name: 'custom retention for an unknown type', yaml: 'name: a\nretentionPolicy:\n  customRetention:\n    auth.nap: 90\n', path: 'retentionPolicy.customRetention.auth.nap', message: /unknown audit event type "auth\.nap"/ },
    { name: 'archive without storage', yaml: 'name: a\nretentionPolicy:\n  archiveAfterRetention: true\n', path: 'retentionPolicy.archiveStorage', message: /archiveAfterRetention needs archiveStorage/ },
    { name: 'an archive storage this runtime does not write', yaml: 'name: a\nretentionPolicy:\n  archiveAfterRetention: true\n  archiveStorage: { type: s3, path: bucket }\n', path: 'retentionPolicy.archiveStorage.type', message: /only filesystem archives are written here/ },
    { name: 'a storage other than the database', yaml: 'name: a\nstorage: { type: elasticsearch }\n', path: 'storage.type', message: /stored in the database here/ },
    { name: 'a sampling rate above 1', yaml: 'name: a\nlogReads: true\nreadSamplingRate: 2\n', path: 'readSamplingRate', line: 3, message: /.+/ },
    { name: 'an unknown suspicious-activity action', yaml: 'name: a\nsuspiciousActivityRules:\n  - { name: r, threshold: 5, windowSeconds: 60, actions: [block_ip] }\n', path: 'suspiciousActivityRules.0.actions.0', message: /unknown action "block_ip" \(alert, lock_account, require_mfa\)/ },
    { name: 'a threshold of one', yaml: 'name: a\nsuspiciousActivityRules:\n  - { name: r, threshold: 1, windowSeconds: 60, actions: [alert] }\n', path: 'suspiciousActivityRules.0.threshold', message: /.+/ },
    { name: 'an unknown key', yaml: 'name: a\nretention: 30\n', path: 'retention', line: 2, message: /unknown property "retention"/ },
    { name: 'two audit files', yaml: 'name: a\n', extra: { 'b.audit.yaml': 'name: b\n' }, path: 'name', message: /only one audit configuration is allowed; a\.audit\.yaml already declares one/ },
  ];
  it.each(cases)('refuses $name, naming the file, path and problem', ({ yaml, path, message, line, extra }) => {
    const issues = issuesOf({ 'a.audit.yaml': yaml, ...extra });
    const issue = issues.find((i) => i.path === path && message.test(i.message));
    expect(issue, JSON.stringify(issues)).toBeDefined();
    if (line !== undefined) expect(issue!.line).toBe(line);
  });
});
