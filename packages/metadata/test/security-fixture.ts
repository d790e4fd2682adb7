import { expect } from 'vitest';
import { MetadataError, parseMetadata, type MetadataIssue, type MetadataSource } from '../src/index.ts';

/** Objects the security metadata tests point at: each sharing model, a readonly field, an autonumber. */
export const OBJECTS: Record<string, string> = {
  'account.object.yaml': `name: account
sharingModel: private
fields:
  name: { type: text }
  employees: { type: number }
  industry:
    type: select
    options:
      - { label: Tech, value: tech }
      - { label: Retail, value: retail }
  code: { type: text, readonly: true }
  number: { type: autonumber, autonumberFormat: "A-{000}" }
  active: { type: boolean }
`,
  'contact.object.yaml': `name: contact
sharingModel: controlled_by_parent
fields:
  last_name: { type: text }
  account: { type: master_detail, reference: account }
`,
  'memo.object.yaml': 'name: memo\nsharingModel: public_read\nfields:\n  title: { type: text }\n',
  'note.object.yaml': 'name: note\nsharingModel: public_read_write\nfields:\n  title: { type: text }\n',
};

export const sources = (files: Record<string, string>): MetadataSource[] =>
  Object.entries({ ...OBJECTS, ...files }).map(([file, text]) => ({ file, text }));

export function issuesOf(files: Record<string, string>): MetadataIssue[] {
  try {
    parseMetadata(sources(files));
  } catch (e) {
    expect(e).toBeInstanceOf(MetadataError);
    return (e as MetadataError).issues;
  }
  throw new Error('expected the metadata to be rejected');
}
