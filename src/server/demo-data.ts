/**
 * Synthetic demo data: people with values that *look* real to detectors
 * (valid-format SSNs, Luhn-valid card numbers, IBANs with a valid mod-97
 * checksum) but belong to no one. Deterministic (seeded PRNG) so demos and
 * tests see the same rows.
 */
const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Radia', 'Frances', 'John', 'Hedy', 'Linus', 'Katherine', 'Dennis', 'Annie'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Perlman', 'Allen', 'Backus', 'Lamarr', 'Torvalds', 'Johnson', 'Ritchie', 'Easley'];

export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function digits(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 10);
  return s;
}

export function luhnCheckDigit(payload: string): number {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** ISO 13616 check digits for a country and BBAN. */
export function ibanFor(country: string, bban: string): string {
  const rearranged = bban + country + '00';
  const numeric = rearranged.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let rem = 0;
  for (const ch of numeric) rem = (rem * 10 + Number(ch)) % 97;
  const check = String(98 - rem).padStart(2, '0');
  return country + check + bban;
}

export interface DemoCustomer {
  id: number;
  name: string;
  email: string;
  phone: string;
  date_of_birth: string;
  ssn: string;
  card_number: string;
  iban: string;
  balance: string;
}

export function demoCustomers(count: number, seed = 42): DemoCustomer[] {
  const rand = prng(seed);
  const out: DemoCustomer[] = [];
  for (let id = 1; id <= count; id++) {
    const first = FIRST[Math.floor(rand() * FIRST.length)]!;
    const last = LAST[Math.floor(rand() * LAST.length)]!;
    // SSN: area 001-665 or 667-899, group 01-99, serial 0001-9999 (never 000/666/9xx).
    let area = 1 + Math.floor(rand() * 899);
    if (area === 666) area = 667;
    const ssn = `${String(area).padStart(3, '0')}-${String(1 + Math.floor(rand() * 99)).padStart(2, '0')}-${String(1 + Math.floor(rand() * 9999)).padStart(4, '0')}`;
    const cardPayload = '4' + digits(rand, 14);
    const card = cardPayload + luhnCheckDigit(cardPayload);
    const iban = ibanFor('DE', digits(rand, 18));
    const year = 1940 + Math.floor(rand() * 65);
    const month = 1 + Math.floor(rand() * 12);
    const day = 1 + Math.floor(rand() * 28);
    out.push({
      id,
      name: `${first} ${last}`,
      email: `${first}.${last}${id}@example.com`.toLowerCase(),
      phone: `+1 202-555-${String(Math.floor(rand() * 10000)).padStart(4, '0')}`,
      date_of_birth: `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
      ssn,
      card_number: card,
      iban,
      balance: (rand() * 250000).toFixed(2),
    });
  }
  return out;
}

const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** SQL that creates and fills the demo schema. */
export function demoSeedSql(customers = 1000): string {
  const people = demoCustomers(customers);
  const rand = prng(7);
  const rows = people
    .map((c) => `(${c.id},${q(c.name)},${q(c.email)},${q(c.phone)},${q(c.date_of_birth)},${q(c.ssn)},${q(c.card_number)},${q(c.iban)},${c.balance})`)
    .join(',\n');
  const tx: string[] = [];
  for (let i = 1; i <= customers * 3; i++) {
    const cid = 1 + Math.floor(rand() * customers);
    const amount = ((rand() - 0.5) * 4000).toFixed(2);
    const day = 1 + Math.floor(rand() * 28);
    tx.push(`(${i},${cid},${amount},'2026-10-${String(day).padStart(2, '0')}',${q(rand() < 0.5 ? 'card' : 'transfer')})`);
  }
  return `
CREATE TABLE customers (
  id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL, phone text, date_of_birth date,
  ssn text, card_number text, iban text, balance numeric(12,2) NOT NULL DEFAULT 0);
INSERT INTO customers VALUES
${rows};
CREATE TABLE transactions (
  id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id),
  amount numeric(12,2) NOT NULL, booked_on date NOT NULL, channel text NOT NULL);
INSERT INTO transactions VALUES
${tx.join(',\n')};
`;
}
