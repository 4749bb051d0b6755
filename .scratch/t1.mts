import { classifyPostgres, initClassifier } from '../src/core/classify/sql/index.ts';
await initClassifier();
const ctx = { searchPath: ['$user', 'public'] };
for (const s of process.argv.slice(2)) console.log(s, '\n   ', JSON.stringify(classifyPostgres(s, ctx)));
