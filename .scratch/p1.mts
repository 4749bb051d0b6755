import { loadModule, parseSync, fingerprintSync, scanSync } from 'libpg-query';
try { parseSync('select 1'); } catch (e) { console.log('before load:', (e as Error).message); }
await loadModule();
const show = (s: string) => { try { console.log(s, '=>', JSON.stringify(parseSync(s))); } catch (e) { console.log(s, 'ERR', (e as Error).message, JSON.stringify((e as any).sqlDetails)); } };
show('');
show('-- only comment');
show('SELECT * FROM U&"cust\\006fmers" c, "Foo"."Bar" FOR UPDATE OF c');
show('WITH x AS (DELETE FROM t RETURNING *) SELECT pg_sleep(1), "pg_sleep"(2) FROM x; COMMIT');
show('SET search_path TO a, "B", \'c, d\'');
show('RESET ROLE');
show('SET LOCAL ROLE admin');
show('SELEC 1');
show('COPY t FROM STDIN');
show('DROP TABLE a.b, c');
show('LOCK TABLE t IN SHARE MODE');
show('EXECUTE p(1)');
show('PREPARE p AS DELETE FROM t');
show('CREATE TABLE a (x int references b)');
console.log(fingerprintSync('select 1; select 2'), fingerprintSync(''));
try { console.log(fingerprintSync('selec 1')); } catch (e) { console.log('fp err', (e as Error).message); }
console.log(JSON.stringify(scanSync('SELECT U&"a" FROM $$x$$;').tokens));
