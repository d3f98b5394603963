// Ledger-generated event ids are RFC 9562 UUIDv7: valid UUIDs of version 7, time-ordered, and
// strictly increasing within a process even within one millisecond or when the clock steps back.
import assert from 'node:assert/strict';
import { Envelope } from '../../events/envelope.js';
import { uuidv7 } from '../../src/store/event-id.js';
import { prepareBatch } from '../../src/store/seal.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const timeOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('store/event-id', function () {
  it('writes version 7, variant 10 and the millisecond time in the first 48 bits', function () {
    // Ahead of every id this process made so far (the generator never goes back in time).
    const at = Date.now() + 3_600_000;
    const id = uuidv7(at);
    assert.match(id, V7);
    assert.equal(timeOf(id), at);
  });

  it('increases strictly across 20,000 ids, most of them within the same millisecond', function () {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, V7);
  });

  it('draws fresh random bits for every id, also across refills of its random pool', function () {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    const randB = new Set(ids.map((id) => id.slice(19)));
    assert.equal(randB.size, ids.length, 'the 62 random bits of rand_b never repeat');
  });

  it('sets every one of rand_b\'s 62 random bits both ways across ids, also across refills', function () {
    // 2,000 ids span four blocks of the random pool; a bit that never changes is not random.
    const ones = new Array<number>(62).fill(0);
    const count = 2_000;
    for (let i = 0; i < count; i++) {
      const bits = BigInt(`0x${uuidv7().slice(19).replace('-', '')}`);
      assert.equal(bits >> 62n, 2n, 'variant 10');
      for (let b = 0; b < 62; b++) ones[b]! += Number((bits >> BigInt(b)) & 1n);
    }
    for (let b = 0; b < 62; b++) assert.ok(ones[b]! > count / 4 && ones[b]! < (3 * count) / 4, `rand_b bit ${b} was 1 in ${ones[b]} of ${count} ids`);
  });

  it('keeps increasing when the clock steps back or one millisecond runs out of counter', function () {
    const base = Date.now() + 36_000_000;
    const later = uuidv7(base + 60_000);
    const earlier = uuidv7(base);
    assert.ok(earlier > later, 'a clock step back does not reorder ids');
    const fixed = base + 120_000;
    const burst = Array.from({ length: 5_000 }, () => uuidv7(fixed));
    for (let i = 1; i < burst.length; i++) assert.ok(burst[i - 1]! < burst[i]!);
    assert.equal(timeOf(burst[0]!), fixed);
    assert.ok(timeOf(burst.at(-1)!) > fixed, 'the time field moved on once the counter ran out');
  });

  it('is what prepareBatch gives events that bring no id, and what the envelope schema accepts', function () {
    const [request] = prepareBatch([{ stream: 's', events: [{ type: 'custom.x', data: {} }, { type: 'custom.x', data: {} }] }]);
    const [a, b] = request!.events.map((e) => e.id);
    assert.match(a!, V7);
    assert.ok(a! < b!);
    assert.equal(Envelope.shape.id.safeParse(a).success, true);
  });
});
