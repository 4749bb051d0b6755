/**
 * The Gatehouse Cedar schema, as published in policy/gatehouse.cedarschema.
 * Core cannot read files, so the text is embedded here; a test
 * (src/infra/policy/load.test.ts) fails when the two differ. Edit both.
 */
export const GATEHOUSE_SCHEMA = `// Gatehouse policy schema. Every policy in a policy folder is validated
// against it (strict mode) when it is loaded: 'gatehouse policy check'.
// Documented in docs/policy.md.
namespace Gatehouse {
  // A group from the identity provider's groups claim.
  entity Group;

  // The verified caller. The entity id is the token's sub. The CI claims
  // are present when the token carries them (GitHub Actions OIDC tokens do).
  entity Identity in [Group] {
    issuer: String,
    subject: String,
    kind: String,            // "human" | "workload"
    repository?: String,
    ref?: String,
    workflow_ref?: String,
    environment?: String,
    actor?: String,
    event_name?: String,
  };

  // A configured upstream (connections[].name in the config).
  entity Connection;

  // A table, view or sequence, id "schema.name" (quoted like Postgres's
  // quote_ident where needed: public."Orders"), in its Connection.
  entity Table in [Connection] {
    schema: String,
    name: String,
    connection: String,
  };

  // A class of sensitive data found by masking (us_ssn, payment_card, iban,
  // email, phone, …).
  entity DataClass;

  // A human approval of this exact operation (the approvals feature fills it).
  type Approval = {
    id: String,
    approvers: Set<String>,
    approvedAt: Long,        // ms since the epoch
  };

  // A just-in-time grant active for this session.
  type Grant = {
    id: String,
    actions: Set<String>,
    tables: Set<String>,
    expiresAt: Long,         // ms since the epoch
    reason: String,
  };

  type RequestContext = {
    hour: Long,              // 0..23, UTC
    weekday: Long,           // 0 = Sunday .. 6 = Saturday, UTC
    clientAddress: String,
    connection: String,
    fingerprint: String,     // libpg_query fingerprint of the query; "" for connect/unmask
    statement: String,       // statement node type, e.g. "SelectStmt"; "" for connect/unmask
    flags: Set<String>,      // classifier flags, e.g. "pg_sleep", "for_update"
    approval?: Approval,
    grant?: Grant,
  };

  action connect appliesTo {
    principal: [Identity],
    resource: [Connection],
    context: RequestContext,
  };

  // All statement actions are in Action::"sql". The resource is the Table
  // the statement touches, or the Connection when it touches none
  // (SELECT 1, SET ROLE, DO, VACUUM without a table, …).
  action sql;
  action "sql:read" in [sql] appliesTo { principal: [Identity], resource: [Table, Connection], context: RequestContext };
  action "sql:write" in [sql] appliesTo { principal: [Identity], resource: [Table, Connection], context: RequestContext };
  action "sql:ddl" in [sql] appliesTo { principal: [Identity], resource: [Table, Connection], context: RequestContext };
  action "sql:privilege" in [sql] appliesTo { principal: [Identity], resource: [Table, Connection], context: RequestContext };
  action "sql:admin" in [sql] appliesTo { principal: [Identity], resource: [Table, Connection], context: RequestContext };
  action "sql:unknown" in [sql] appliesTo { principal: [Identity], resource: [Table, Connection], context: RequestContext };

  // See values of this class in clear instead of masked.
  action unmask appliesTo {
    principal: [Identity],
    resource: [DataClass],
    context: RequestContext,
  };
}
`;

/** Entity type names as Cedar spells them. */
export const T = {
  identity: 'Gatehouse::Identity',
  group: 'Gatehouse::Group',
  connection: 'Gatehouse::Connection',
  table: 'Gatehouse::Table',
  dataClass: 'Gatehouse::DataClass',
  action: 'Gatehouse::Action',
} as const;

/** Data classes masking knows; `unmaskable` asks policy about each. */
export const DEFAULT_DATA_CLASSES: readonly string[] = [
  'us_ssn',
  'payment_card',
  'iban',
  'email',
  'phone',
  'aba_routing',
  'jwt',
  'aws_access_key',
  'private_key',
];
