import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, UnavailableError } from '../../src/errors.js';
import { defaultStoreUrl, openStore, sqlitePath } from '../../src/store/open.js';

describe('store/open', function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'runledger-open-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves sqlite: paths against the working directory, with or without //', function () {
    assert.equal(sqlitePath('sqlite:ledger.db', '/home/me'), '/home/me/ledger.db');
    assert.equal(sqlitePath('sqlite:data/ledger.db', '/home/me'), '/home/me/data/ledger.db');
    assert.equal(sqlitePath('sqlite:/var/ledger.db', '/home/me'), '/var/ledger.db');
    assert.equal(sqlitePath('sqlite://data/ledger.db', '/home/me'), '/home/me/data/ledger.db');
    assert.equal(sqlitePath('sqlite:///var/ledger.db', '/home/me'), '/var/ledger.db');
    assert.equal(sqlitePath('sqlite::memory:', '/home/me'), ':memory:');
    assert.throws(() => sqlitePath('sqlite:', '/home/me'), InputError);
  });

  it('names the ledger file inside the home as the default store', function () {
    assert.equal(defaultStoreUrl('/home/me/.runledger'), 'sqlite:/home/me/.runledger/ledger.db');
  });

  it('opens and initialises an embedded store from a sqlite: URL', async function () {
    const store = await openStore('sqlite:sub/ledger.db', { cwd: dir });
    assert.equal(store.kind, 'sqlite');
    assert.equal(store.displayUrl, `sqlite:${join(dir, 'sub', 'ledger.db')}`);
    assert.ok(existsSync(join(dir, 'sub', 'ledger.db')), 'the file exists after open');
    await store.append('s', [{ type: 'custom.x', data: {} }]);
    await store.close();
    const again = await openStore(`sqlite://${join(dir, 'sub', 'ledger.db')}`);
    assert.equal((await again.readAll()).length, 1);
    await again.close();
  });

  it('hands postgres:// and postgresql:// URLs to the PostgreSQL adapter', async function () {
    // Port 1 on loopback refuses at once: the adapter was loaded and tried to connect.
    for (const url of ['postgres://ledger:secret@127.0.0.1:1/ledger', 'postgresql://ledger:secret@127.0.0.1:1/ledger']) {
      await assert.rejects(openStore(url), (err: unknown) => {
        assert.ok(err instanceof UnavailableError, String(err));
        assert.match(err.message, /127\.0\.0\.1:1/);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      });
    }
  });

  it('rejects an unknown scheme with an InputError naming the URL without its password', async function () {
    await assert.rejects(openStore('mysql://root:hunter2@db/ledger'), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.match(err.message, /mysql:\/\/root:\*\*\*@db\/ledger/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    });
    await assert.rejects(openStore('./ledger.db'), /has no known scheme/);
  });
});
