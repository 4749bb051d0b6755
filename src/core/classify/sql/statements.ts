/**
 * Top-level statement kinds → what they are. Every libpg_query statement
 * node type Gatehouse knows appears here; anything else is `sql:unknown`
 * (fail closed: a new Postgres release's statement is denied until it is
 * classified). docs/policy.md has the same table for policy authors.
 */
import { isAdminSetting } from './functions.ts';
import { tablesFromNameList } from './names.ts';
import { isObj, stringConst, StatementState, funcName, targetTable, visit, visitNode } from './walk.ts';
import type { SqlAction } from './types.ts';

type Obj = Record<string, unknown>;

/** Server-level and escape-hatch operations. */
const ADMIN_KINDS = new Set([
  'AlterSystemStmt', 'CheckPointStmt', 'LoadStmt',
  'CreatedbStmt', 'DropdbStmt', 'AlterDatabaseStmt', 'AlterDatabaseSetStmt', 'AlterDatabaseRefreshCollStmt',
  'CreateTableSpaceStmt', 'DropTableSpaceStmt', 'AlterTableSpaceOptionsStmt', 'AlterTableMoveAllStmt',
  'CreateSubscriptionStmt', 'AlterSubscriptionStmt', 'DropSubscriptionStmt',
  'CreatePublicationStmt', 'AlterPublicationStmt',
  'CreateExtensionStmt', 'AlterExtensionStmt', 'AlterExtensionContentsStmt',
  'CreateFdwStmt', 'AlterFdwStmt', 'CreateForeignServerStmt', 'AlterForeignServerStmt',
  'CreateUserMappingStmt', 'AlterUserMappingStmt', 'DropUserMappingStmt', 'ImportForeignSchemaStmt',
  'CreateEventTrigStmt', 'AlterEventTrigStmt', 'CreatePLangStmt',
  'VacuumStmt', 'ClusterStmt', 'ReindexStmt',
]);

/** Roles, grants, ownership and row-level security: who may do what. */
const PRIVILEGE_KINDS = new Set([
  'GrantStmt', 'GrantRoleStmt', 'CreateRoleStmt', 'AlterRoleStmt', 'AlterRoleSetStmt', 'DropRoleStmt',
  'ReassignOwnedStmt', 'DropOwnedStmt', 'AlterDefaultPrivilegesStmt', 'SecLabelStmt',
  'CreatePolicyStmt', 'AlterPolicyStmt', 'AlterOwnerStmt',
]);

/** Schema changes. */
const DDL_KINDS = new Set([
  'CreateStmt', 'AlterTableStmt', 'IndexStmt', 'ViewStmt', 'CreateSeqStmt', 'AlterSeqStmt',
  'CreateFunctionStmt', 'AlterFunctionStmt', 'CreateTrigStmt', 'RuleStmt', 'CreateSchemaStmt',
  'CompositeTypeStmt', 'CreateEnumStmt', 'AlterEnumStmt', 'CreateRangeStmt', 'CreateDomainStmt',
  'AlterDomainStmt', 'DefineStmt', 'CommentStmt', 'AlterObjectSchemaStmt', 'AlterObjectDependsStmt',
  'CreateCastStmt', 'CreateConversionStmt', 'CreateOpClassStmt', 'CreateOpFamilyStmt', 'AlterOpFamilyStmt',
  'AlterOperatorStmt', 'AlterTypeStmt', 'CreateTransformStmt', 'CreateAmStmt', 'CreateStatsStmt',
  'AlterStatsStmt', 'AlterCollationStmt', 'CreateForeignTableStmt', 'AlterTSDictionaryStmt',
  'AlterTSConfigurationStmt', 'CreateTableAsStmt', 'RenameStmt', 'DropStmt',
]);

/** Harmless transaction and session control: always allowed (types.ts). */
const TRANSACTION_KINDS = new Set(['DeallocateStmt', 'ClosePortalStmt', 'FetchStmt', 'ConstraintsSetStmt', 'UnlistenStmt']);

/** DROP of these object types names a relation (the last list item). */
const DROP_RELATION = new Set([
  'OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_INDEX', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE',
]);
/** DROP of these is as much an admin act as their CREATE (an event trigger may be the audit trail). */
const DROP_ADMIN = new Set([
  'OBJECT_EVENT_TRIGGER', 'OBJECT_EXTENSION', 'OBJECT_FOREIGN_SERVER', 'OBJECT_FDW', 'OBJECT_PUBLICATION',
  'OBJECT_LANGUAGE', 'OBJECT_USER_MAPPING', 'OBJECT_ACCESS_METHOD', 'OBJECT_SUBSCRIPTION',
]);
/** DROP of these names `table.object`: the table is all but the last item. */
const DROP_ON_RELATION = new Set(['OBJECT_TRIGGER', 'OBJECT_RULE', 'OBJECT_POLICY']);

const ALTER_TABLE_PRIVILEGE = new Set([
  'AT_ChangeOwner', 'AT_EnableRowSecurity', 'AT_DisableRowSecurity', 'AT_ForceRowSecurity', 'AT_NoForceRowSecurity',
]);

function names(list: unknown): string[] {
  if (!isObj(list) || !isObj(list.List) || !Array.isArray(list.List.items)) return [];
  return list.List.items.map((i) => (isObj(i) && isObj(i.String) && typeof i.String.sval === 'string' ? i.String.sval : ''));
}

/** Walk `body` reading tables as `action`; ensure at least `(fallback, null)` when nothing was found. */
function walkAs(kind: string, body: Obj, st: StatementState, action: SqlAction): void {
  visitNode(kind, body, st, action);
  if (!st.pairs.some((p) => p.action === action)) st.add(action, null);
}

function classifySet(body: Obj, st: StatementState, out: { searchPath?: readonly string[] }): void {
  const kind = String(body.kind ?? '');
  const name = typeof body.name === 'string' ? body.name.toLowerCase() : '';
  if (body.is_local === true) st.flag('set_local');
  if (kind === 'VAR_SET_MULTI') {
    // SET TRANSACTION … / SET SESSION CHARACTERISTICS AS TRANSACTION …
    st.add('sql:transaction', null);
    return;
  }
  if (kind === 'VAR_RESET_ALL') {
    // role and session_authorization are not reset by RESET ALL (GUC_NO_RESET_ALL).
    out.searchPath = st.ctx.defaultSearchPath ?? ['$user', 'public'];
    st.add('sql:transaction', null);
    return;
  }
  if (isAdminSetting(name)) {
    st.flag(`set:${name}`);
    st.add('sql:admin', null);
    return;
  }
  if (name === 'search_path') {
    if (kind === 'VAR_SET_VALUE') {
      const args = Array.isArray(body.args) ? body.args : [];
      const path = args.map((a) => stringConst(a));
      if (path.some((p) => p === null)) {
        // Not a list of names we can follow: the path is now unknowable.
        st.add('sql:unknown', null);
        st.flag('search_path_unknown');
        return;
      }
      out.searchPath = (path as string[]).length === 1 && path[0] === '' ? [] : (path as string[]);
    } else if (kind === 'VAR_SET_DEFAULT' || kind === 'VAR_RESET') {
      out.searchPath = st.ctx.defaultSearchPath ?? ['$user', 'public'];
    }
    st.flag('set:search_path');
  }
  st.add('sql:transaction', null);
}

/**
 * Classify one statement node into `st`. Returns a new search_path when the
 * statement changes it. `kind` is the node type name.
 */
export function classifyNode(kind: string, body: Obj, st: StatementState): { searchPath?: readonly string[] } {
  const out: { searchPath?: readonly string[] } = {};
  switch (kind) {
    case 'SelectStmt':
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
    case 'DeclareCursorStmt':
      visitNode(kind, body, st, 'sql:read');
      if (st.pairs.length === 0) st.add('sql:read', null); // SELECT 1, SELECT now()
      return out;
    case 'ExecuteStmt':
      visitNode(kind, body, st, 'sql:read');
      return out;
    case 'ExplainStmt': {
      // EXPLAIN needs the privileges of the statement it explains, and
      // EXPLAIN ANALYZE runs it: the inner statement's class either way.
      st.flag('explain');
      const opts = Array.isArray(body.options) ? body.options : [];
      if (opts.some((o) => isObj(o) && isObj(o.DefElem) && o.DefElem.defname === 'analyze' && stringConst(o.DefElem.arg) !== 'false'))
        st.flag('explain_analyze');
      return classifyInner(body.query, st);
    }
    case 'CreateTableAsStmt': {
      // CREATE TABLE … AS / CREATE MATERIALIZED VIEW: creates (DDL) and runs the query.
      if (isObj(body.into)) targetTable(body.into.rel, st, 'sql:ddl');
      visit(body.query, st, 'sql:read');
      return out;
    }
    case 'CopyStmt':
      classifyCopy(body, st);
      return out;
    case 'DoStmt':
      st.flag('do_block');
      st.add('sql:admin', null);
      return out;
    case 'CallStmt': {
      const fc = isObj(body.funccall) ? body.funccall : {};
      const name = funcName(fc) ?? '';
      st.flag(`call:${name}`);
      // A procedure can do anything: admin unless the connection configures it.
      st.add(st.ctx.functions?.[name] ?? 'sql:admin', null);
      visit(fc.args, st, 'sql:read');
      return out;
    }
    case 'VariableSetStmt':
      classifySet(body, st, out);
      return out;
    case 'VariableShowStmt':
      st.add('sql:read', null);
      return out;
    case 'TransactionStmt': {
      const k = String(body.kind ?? '');
      if (k === 'TRANS_STMT_PREPARE' || k === 'TRANS_STMT_COMMIT_PREPARED' || k === 'TRANS_STMT_ROLLBACK_PREPARED') {
        // Two-phase commit: a prepared transaction outlives the session and holds its locks.
        st.flag('two_phase_commit');
        st.add('sql:admin', null);
      } else st.add('sql:transaction', null);
      return out;
    }
    case 'DiscardStmt':
      if (body.target === 'DISCARD_ALL') {
        // DISCARD ALL includes SET SESSION AUTHORIZATION DEFAULT (like RESET ROLE) and RESET ALL.
        st.flag('discard_all');
        st.add('sql:admin', null);
        out.searchPath = st.ctx.defaultSearchPath ?? ['$user', 'public'];
      } else st.add('sql:transaction', null);
      return out;
    case 'ListenStmt':
      st.flag('listen');
      st.add('sql:read', null);
      return out;
    case 'NotifyStmt':
      // Reaches every listening session.
      st.flag('notify');
      st.add('sql:write', null);
      return out;
    case 'LockStmt': {
      // ACCESS SHARE (mode 1) only conflicts with ACCESS EXCLUSIVE and needs
      // SELECT; every stronger mode needs write privileges in Postgres.
      st.flag('lock_table');
      const action: SqlAction = body.mode === 1 ? 'sql:read' : 'sql:write';
      for (const r of Array.isArray(body.relations) ? body.relations : []) if (isObj(r)) targetTable(r.RangeVar, st, action);
      if (st.pairs.length === 0) st.add(action, null);
      return out;
    }
    case 'TruncateStmt':
      st.flag('truncate');
      for (const r of Array.isArray(body.relations) ? body.relations : []) if (isObj(r)) targetTable(r.RangeVar, st, 'sql:write');
      if (st.pairs.length === 0) st.add('sql:write', null);
      return out;
    case 'RefreshMatViewStmt':
      st.flag('refresh_materialized_view');
      targetTable(body.relation, st, 'sql:write');
      return out;
    case 'PrepareStmt':
      // Handled by the caller (it needs a nested classification).
      return out;
    case 'DropStmt':
      classifyDrop(body, st);
      return out;
    case 'AlterTableStmt': {
      const cmds = Array.isArray(body.cmds) ? body.cmds : [];
      const privilege = cmds.some((c) => isObj(c) && isObj(c.AlterTableCmd) && ALTER_TABLE_PRIVILEGE.has(String(c.AlterTableCmd.subtype)));
      if (privilege) targetTable(body.relation, st, 'sql:privilege');
      if (cmds.some((c) => isObj(c) && isObj(c.AlterTableCmd) && String(c.AlterTableCmd.subtype).startsWith('AT_DisableTrig')))
        st.flag('disable_trigger');
      walkAs(kind, body, st, 'sql:ddl');
      return out;
    }
    case 'CreateSchemaStmt': {
      const schema = typeof body.schemaname === 'string' ? body.schemaname : null;
      if (schema === null) walkAs(kind, body, st, 'sql:ddl');
      else st.withSearchPath([schema], () => walkAs(kind, body, st, 'sql:ddl'));
      return out;
    }
    case 'RenameStmt':
      if (body.renameType === 'OBJECT_ROLE') {
        st.add('sql:privilege', null);
        return out;
      }
      walkAs(kind, body, st, 'sql:ddl');
      return out;
  }
  if (ADMIN_KINDS.has(kind)) {
    if (kind === 'VacuumStmt') st.flag(body.is_vacuumcmd === true ? 'vacuum' : 'analyze');
    if (kind === 'CreateExtensionStmt' && typeof body.extname === 'string') st.flag(`extension:${body.extname}`);
    walkAs(kind, body, st, 'sql:admin');
    return out;
  }
  if (PRIVILEGE_KINDS.has(kind)) {
    walkAs(kind, body, st, 'sql:privilege');
    return out;
  }
  if (DDL_KINDS.has(kind)) {
    walkAs(kind, body, st, 'sql:ddl');
    return out;
  }
  if (TRANSACTION_KINDS.has(kind)) {
    st.add('sql:transaction', null);
    return out;
  }
  // Fail closed: a statement type Gatehouse does not know.
  st.flag(`unknown_statement:${kind}`);
  st.add('sql:unknown', null);
  return out;
}

/** A wrapped statement node (`{ DeleteStmt: {...} }`) inside EXPLAIN. */
function classifyInner(node: unknown, st: StatementState): { searchPath?: readonly string[] } {
  if (isObj(node)) {
    const [kind] = Object.keys(node);
    const body = kind === undefined ? undefined : node[kind];
    if (kind !== undefined && isObj(body)) return classifyNode(kind, body, st);
  }
  st.flag('unknown_statement:?');
  st.add('sql:unknown', null);
  return {};
}

/**
 * COPY: FROM STDIN writes the table, TO STDOUT reads it (or runs the query,
 * which may itself be `DELETE … RETURNING`). A server-side file or PROGRAM is
 * an admin act whatever the direction: it reads or writes the server's
 * filesystem or runs a shell command as the postgres user.
 */
function classifyCopy(body: Obj, st: StatementState): void {
  const from = body.is_from === true;
  const file = typeof body.filename === 'string';
  if (body.relation !== undefined) targetTable(body.relation, st, from ? 'sql:write' : 'sql:read');
  if (body.query !== undefined) visit(body.query, st, 'sql:read');
  visit(body.whereClause, st, 'sql:read');
  if (body.is_program === true) {
    st.flag('copy_program');
    st.add('sql:admin', null);
  } else if (file) {
    st.flag('copy_file');
    st.add('sql:admin', null);
  } else st.flag(from ? 'copy_from_stdin' : 'copy_to_stdout');
  if (st.pairs.length === 0) st.add(from ? 'sql:write' : 'sql:read', null);
}

function classifyDrop(body: Obj, st: StatementState): void {
  const type = String(body.removeType ?? '');
  const objects = Array.isArray(body.objects) ? body.objects : [];
  const action: SqlAction = type === 'OBJECT_POLICY' ? 'sql:privilege' : DROP_ADMIN.has(type) ? 'sql:admin' : 'sql:ddl';
  if (DROP_RELATION.has(type) || DROP_ON_RELATION.has(type)) {
    for (const o of objects) {
      const parts = names(o);
      const rel = DROP_ON_RELATION.has(type) ? parts.slice(0, -1) : parts;
      for (const t of tablesFromNameList(rel, st.searchPath)) st.add(action, t);
    }
  }
  if (st.pairs.length === 0) st.add(action, null);
}
