// Deterministic seed data for the `bank` database.
//
// The values look like real PII on purpose: masking tests need card numbers
// that pass Luhn, IBANs with valid mod-97 check digits, SSN-shaped strings and
// e-mail addresses. They are generated from the row number, so every cluster
// holds exactly the same rows and tests can assert on specific values
// (see seedCustomer / seedAccount).

export const SEED_COUNTS = { customers: 100, accounts: 150 } as const;

const FIRST = ['Ada', 'Alan', 'Grace', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia', 'Tony'];
const LAST = ['Lovelace', 'Turing', 'Hopper', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Perlman', 'Hoare'];

export interface SeedCustomer {
  id: number;
  name: string;
  email: string;
  ssn: string;
  card: string;
  balance: string;
}

export interface SeedAccount {
  id: number;
  customer_id: number;
  iban: string;
  balance: string;
}

/** Appends the Luhn check digit to a string of digits. */
export function withLuhn(body: string): string {
  let sum = 0;
  // Walking right to left over the body, the first digit is the one that will
  // sit next to the check digit, so it is the one doubled.
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

/** A German IBAN (DE + 2 check digits + 8-digit bank code + 10-digit account), ISO 13616 mod 97. */
export function germanIban(bankCode: string, account: string): string {
  const bban = bankCode.padStart(8, '0') + account.padStart(10, '0');
  // Move "DE00" to the end and turn letters into numbers (A=10 … Z=35).
  const numeric = (bban + 'DE00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  const check = 98 - Number(BigInt(numeric) % 97n);
  return `DE${String(check).padStart(2, '0')}${bban}`;
}

function money(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

export function seedCustomer(id: number): SeedCustomer {
  const first = FIRST[id % FIRST.length]!;
  const last = LAST[Math.floor(id / FIRST.length) % LAST.length]!;
  const area = 101 + ((id * 7) % 560); // never 000, 666 or 9xx
  const group = 10 + (id % 89);
  const serial = 1000 + ((id * 53) % 9000);
  return {
    id,
    name: `${first} ${last}`,
    email: `${first}.${last}${id}@example.com`.toLowerCase(),
    ssn: `${area}-${group}-${serial}`,
    card: withLuhn('4' + String(40_000_000_000_000 + id * 7_919_113)), // 16 digits, Visa prefix
    balance: money((id * 7919 * 13) % 10_000_000),
  };
}

/** Account ids 1..100 belong to customers 1..100; 101..150 are second accounts of even customers. */
export function seedAccount(id: number): SeedAccount {
  const customer_id = id <= SEED_COUNTS.customers ? id : (id - SEED_COUNTS.customers) * 2;
  return {
    id,
    customer_id,
    iban: germanIban('37040044', String(532_013_000 + id)),
    balance: money((id * 104_729) % 5_000_000),
  };
}

const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** SQL that creates and fills the schema; run it as the database owner. */
export function seedSql(): string {
  const customers: string[] = [];
  for (let id = 1; id <= SEED_COUNTS.customers; id++) {
    const c = seedCustomer(id);
    customers.push(`(${q(c.name)}, ${q(c.email)}, ${q(c.ssn)}, ${q(c.card)}, ${c.balance})`);
  }
  const accounts: string[] = [];
  for (let id = 1; id <= SEED_COUNTS.accounts; id++) {
    const a = seedAccount(id);
    accounts.push(`(${a.customer_id}, ${q(a.iban)}, ${a.balance})`);
  }
  return `
CREATE TABLE customers (
  id      serial PRIMARY KEY,
  name    text NOT NULL,
  email   text,
  ssn     text,
  card    text,
  balance numeric(14,2) NOT NULL DEFAULT 0
);
CREATE TABLE accounts (
  id          serial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  iban        text NOT NULL,
  balance     numeric(14,2) NOT NULL DEFAULT 0
);
INSERT INTO customers (name, email, ssn, card, balance) VALUES
${customers.join(',\n')};
INSERT INTO accounts (customer_id, iban, balance) VALUES
${accounts.join(',\n')};
ANALYZE customers;
ANALYZE accounts;
`;
}
