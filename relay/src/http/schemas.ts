import { Type, type Static, type TSchema } from 'typebox';

export const ErrorResponse = Type.Object(
  {
    code: Type.String({ description: 'Stable error code, e.g. RELAY_ERR_VALIDATION' }),
    message: Type.String(),
    correlationId: Type.Optional(Type.String())
  },
  { $id: 'ErrorResponse' }
);
export type ErrorBody = Static<typeof ErrorResponse>;

/** The error statuses any route can answer besides its own (the error handler's output). */
export function withErrors<R extends Record<number, TSchema>>(
  responses: R,
  statuses: number[] = []
): R & Record<number, TSchema> {
  const errors: Record<number, TSchema> = {};
  for (const status of [400, 413, 415, 429, 500, ...statuses]) errors[status] = ErrorResponse;
  return { ...errors, ...responses };
}

// ---- D365 Business Events (reference/d365-fo.md §6.3) ----

/** X++ class names; refusing anything else keeps quotes and markup out of the store and logs. */
const BUSINESS_EVENT_ID = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';
/** D365 sends EventId as an upper-case GUID without braces; accept either case and braces. */
const GUID =
  '^\\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\}?$';

/**
 * The envelope every business event carries. Contract fields (InvoiceId, …) differ per event, so
 * other properties are allowed and kept as sent.
 */
export const BusinessEventEnvelope = Type.Object(
  {
    BusinessEventId: Type.String({ pattern: BUSINESS_EVENT_ID }),
    BusinessEventLegalEntity: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9]{0,8}$', description: 'dataAreaId' })
    ),
    ControlNumber: Type.Integer({ minimum: 0 }),
    EventId: Type.String({ pattern: GUID }),
    EventTime: Type.Optional(Type.String({ pattern: '^/Date\\(-?[0-9]+\\)/$' })),
    EventTimeIso8601: Type.Optional(Type.String({ maxLength: 40 })),
    ContextRecordSubject: Type.Optional(Type.String()),
    InitiatingUserAADObjectId: Type.Optional(Type.String({ maxLength: 40 })),
    MajorVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    MinorVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    ParentContextRecordSubjects: Type.Optional(
      Type.Union([Type.Array(Type.Unknown()), Type.Null()])
    )
  },
  { additionalProperties: true }
);
export type BusinessEvent = Static<typeof BusinessEventEnvelope>;

/** Our own bound on events per request, so one request cannot hold the store's write lock for long. */
export const MAX_BUSINESS_EVENTS_PER_REQUEST = 500;

export const BusinessEventBody = Type.Union([
  BusinessEventEnvelope,
  Type.Array(BusinessEventEnvelope, { minItems: 1, maxItems: MAX_BUSINESS_EVENTS_PER_REQUEST })
]);

export const BusinessEventResult = Type.Object({
  eventId: Type.String(),
  status: Type.Union([
    Type.Literal('accepted'),
    Type.Literal('duplicate'),
    Type.Literal('ignored'),
    Type.Literal('test')
  ])
});

export const BusinessEventAck = Type.Object({
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  ignored: Type.Integer(),
  results: Type.Array(BusinessEventResult)
});

// ---- Admin ----

export const IdParams = Type.Object(
  { id: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false }
);

const FlowName = Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' });

export const DeadLetterSummary = Type.Object({
  id: Type.Integer(),
  jobId: Type.Integer(),
  flow: Type.String(),
  idempotencyKey: Type.String(),
  attempts: Type.Integer(),
  maxAttempts: Type.Integer(),
  lastError: Type.String(),
  reason: Type.Union([Type.Literal('permanent'), Type.Literal('exhausted')]),
  correlationId: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  deadLetteredAt: Type.String({ format: 'date-time' })
});

export const DeadLetterDetail = Type.Intersect([
  DeadLetterSummary,
  Type.Object({ payload: Type.Unknown() })
]);

export const DeadLetterListQuery = Type.Object(
  {
    flow: Type.Optional(FlowName),
    beforeId: Type.Optional(Type.Integer({ minimum: 1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 }))
  },
  { additionalProperties: false }
);

export const DeadLetterList = Type.Object({
  items: Type.Array(DeadLetterSummary),
  nextBeforeId: Type.Union([Type.Integer(), Type.Null()])
});

export const SyncParams = Type.Object({ flow: FlowName }, { additionalProperties: false });
export const SyncQuery = Type.Object(
  { full: Type.Optional(Type.Boolean()) },
  { additionalProperties: false }
);
export const SyncAck = Type.Object({
  flow: Type.String(),
  full: Type.Boolean(),
  jobId: Type.Union([Type.Integer(), Type.Null()]),
  duplicate: Type.Boolean()
});

const LedgerStatus = Type.Union(
  ['Synced', 'Error', 'Pending', 'Skipped'].map((s) => Type.Literal(s))
);

export const LedgerQueryString = Type.Object(
  {
    flow: Type.Optional(FlowName),
    salesforceId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{15,18}$' })),
    d365Key: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    status: Type.Optional(LedgerStatus),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 }))
  },
  { additionalProperties: false }
);

export const LedgerItem = Type.Object({
  flow: Type.String(),
  recordKey: Type.String(),
  salesforceId: Type.Union([Type.String(), Type.Null()]),
  d365Key: Type.Union([Type.String(), Type.Null()]),
  lastStatus: Type.String(),
  lastError: Type.Union([Type.String(), Type.Null()]),
  contentHash: Type.Union([Type.String(), Type.Null()]),
  correlationId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
});

export const StatusResponse = Type.Object({
  backend: Type.String(),
  queue: Type.Object({
    pending: Type.Record(Type.String(), Type.Integer()),
    running: Type.Integer()
  }),
  deadLetters: Type.Record(Type.String(), Type.Integer()),
  flows: Type.Array(Type.String())
});
