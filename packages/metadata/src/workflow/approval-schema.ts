import { z } from 'zod';
import { snakeName } from '../field-schema.ts';
import { WorkflowActionSchema } from '../rule-schema.ts';
import { ConditionInputSchema } from '../security-schema.ts';

export const APPROVER_TYPES = ['user', 'role', 'manager', 'field', 'queue'] as const;
export type ApproverType = (typeof APPROVER_TYPES)[number];

/**
 * Who decides a step: `user` (a user id), `role` (the members holding a role of the hierarchy),
 * `manager` (the members holding the parent of the submitter's role), `field` (the user id in a text
 * field of the record), `queue` (the members of a group).
 */
export const ApproverSchema = z
  .strictObject({
    type: z.enum(APPROVER_TYPES, { error: (i) => `unknown approver type ${JSON.stringify(i.input)} (${APPROVER_TYPES.join(', ')})` }),
    value: z.string().min(1).optional(),
  })
  .superRefine((a, ctx) => {
    if (a.type === 'manager' && a.value !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: 'a manager approver has no value (the submitter\'s manager, by the role hierarchy)' });
    if (a.type !== 'manager' && a.value === undefined) ctx.addIssue({ code: 'custom', path: ['type'], message: `a ${a.type} approver needs value (${a.type === 'user' ? 'a user id' : a.type === 'field' ? 'a field of the record holding a user id' : a.type === 'role' ? 'a role name' : 'a group name'})` });
  });

/**
 * What happens at a point of the process: a rule action (the 7 types), or `{ transition: <event> }`, a
 * transition of the object's state machine, taken with the approval's authority (its guards are not
 * asked: the approval is the decision).
 */
export const ApprovalActionSchema = z.union([
  z.strictObject({ transition: snakeName }),
  WorkflowActionSchema,
], { error: 'an approval action is { transition: <event of the object\'s state machine> } or a rule action with type and name' });

const actions = z.array(ApprovalActionSchema).default([]);

export const ApprovalStepSchema = z.strictObject({
  name: snakeName,
  label: z.string().optional(),
  approvers: z.array(ApproverSchema).min(1, { error: 'a step needs at least one approver' }),
  /** `first_response`: the first decision decides the step; `unanimous`: every approver must approve (one rejection rejects). */
  behavior: z.enum(['first_response', 'unanimous']).default('first_response'),
  /** On rejection: end the process, or go back to the previous step (from the first step: end it). */
  rejectionBehavior: z.enum(['reject_process', 'back_to_previous']).default('reject_process'),
  onApprove: actions,
  onReject: actions,
});

export const ESCALATION_ACTIONS = ['reassign', 'auto_approve', 'auto_reject', 'notify'] as const;

/** A pending decision older than `timeoutHours`: handed to someone else, decided, or its approver and their manager reminded. */
export const EscalationSchema = z
  .strictObject({
    timeoutHours: z.number().positive().max(24 * 365),
    action: z.enum(ESCALATION_ACTIONS, { error: (i) => `unknown escalation action ${JSON.stringify(i.input)} (${ESCALATION_ACTIONS.join(', ')})` }),
    /** reassign only: who the pending decisions go to. @default the approver's manager */
    reassignTo: ApproverSchema.optional(),
  })
  .superRefine((e, ctx) => {
    if (e.reassignTo !== undefined && e.action !== 'reassign') ctx.addIssue({ code: 'custom', path: ['reassignTo'], message: `reassignTo is for action reassign (this escalation is ${e.action})` });
  });

/** Spec `Approval` (`*.approval.yaml`): a record submitted for approval goes through steps of approvers. */
export const ApprovalSchema = z
  .strictObject({
    name: snakeName,
    label: z.string().optional(),
    description: z.string().optional(),
    object: snakeName,
    /** The rule criteria language over the record; a record that does not meet it cannot be submitted. */
    entryCriteria: ConditionInputSchema.optional(),
    /** While pending, only its approvers and the organization's admins may edit the record. */
    lockRecord: z.boolean().default(true),
    steps: z.array(ApprovalStepSchema).min(1, { error: 'an approval process needs at least one step' }),
    escalation: EscalationSchema.optional(),
    onSubmit: actions,
    onFinalApprove: actions,
    onFinalReject: actions,
    onRecall: actions,
    active: z.boolean().default(true),
  })
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.steps.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'name'], message: `step name "${s.name}" is already used in this process` });
      seen.add(s.name);
    });
  });

export type ApproverDefinition = z.output<typeof ApproverSchema>;
export type ApprovalAction = z.output<typeof ApprovalActionSchema>;
export type ApprovalStepDefinition = z.output<typeof ApprovalStepSchema>;
export type ApprovalDefinition = z.output<typeof ApprovalSchema>;
