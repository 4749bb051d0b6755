import { MemoryApprovalStore } from './memory-store.ts';
import { storeContract } from './store-contract.ts';

storeContract('memory', () => new MemoryApprovalStore());
