import { loadModule, parseSync } from 'libpg-query';
await loadModule();
const show = (s: string) => { try { console.log(s, '=>', JSON.stringify(parseSync(s).stmts.map(x => x.stmt))); } catch (e) { console.log(s, 'ERR', (e as Error).message); } };
for (const s of [
 "DO $$BEGIN PERFORM 1; END$$", "CALL myproc(1)", "COPY (SELECT 1) TO STDOUT", "COPY t TO '/tmp/x'", "COPY t FROM PROGRAM 'ls'",
 "GRANT SELECT ON t TO bob", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO bob", "GRANT admin TO bob", "ALTER SYSTEM SET x = 1",
 "EXPLAIN (ANALYZE) DELETE FROM t", "VACUUM FULL t", "ANALYZE t", "VACUUM", "CREATE TABLE x AS SELECT * FROM y", "SELECT * INTO x FROM y",
 "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v", "TRUNCATE a, b", "LISTEN c", "NOTIFY c, 'x'", "UNLISTEN *",
 "SET SESSION AUTHORIZATION bob", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SHOW search_path", "RESET ALL", "DISCARD ALL",
 "BEGIN", "SAVEPOINT a", "PREPARE TRANSACTION 'x'", "DECLARE c CURSOR FOR SELECT * FROM t", "FETCH 10 FROM c", "CLOSE c", "DEALLOCATE p",
 "CREATE TABLE x AS EXECUTE p", "SET search_path = DEFAULT", "REFRESH MATERIALIZED VIEW mv", "INSERT INTO t SELECT * FROM u RETURNING *",
 "UPDATE t SET a = 1 FROM u WHERE t.id = u.id", "DELETE FROM t USING u", "SELECT 1 FOR SHARE", "CREATE ROLE r", "ALTER TABLE t OWNER TO r", "CHECKPOINT", "LOAD 'x'",
 "CREATE EXTENSION dblink", "SET ROLE NONE", "SET search_path = ''", "VALUES (1)", "TABLE t", "SELECT 1 UNION SELECT 2 FROM t",
 "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END", "SELECT * FROM ROWS FROM (pg_ls_dir('.'))", "IMPORT FOREIGN SCHEMA x FROM SERVER s INTO y",
 "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob","SET CONSTRAINTS ALL DEFERRED", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "CREATE TEMP TABLE tt (a int)", "SELECT nextval('s')", "COMMENT ON TABLE t IS 'x'", "REINDEX TABLE t", "CLUSTER t", "SELECT (1)", "((SELECT 1))",
]) show(s);
