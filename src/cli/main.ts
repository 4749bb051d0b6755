import { Command } from 'commander';
import { registerUp } from './up.ts';
import { registerToken } from './token.ts';
import { registerVault } from './vault.ts';
import { registerConfig } from './config.ts';
import { registerPolicy } from './policy.ts';
import { registerApprovals } from './approvals.ts';
import { registerAudit } from './audit.ts';

const program = new Command();
program.name('gatehouse').description('Gatehouse: the access gateway for AI agents and people').showHelpAfterError();
registerUp(program);
registerToken(program);
registerVault(program);
registerConfig(program);
registerPolicy(program);
registerApprovals(program);
registerAudit(program);
await program.parseAsync(process.argv);
