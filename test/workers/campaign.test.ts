import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readPlanFile } from '../../src/governance/plan-file.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import type { EventStore } from '../../src/store/port.js';
import { asSigner } from '../../workers/checkpoint.js';
import { campaignSeed, resumeCampaign, runCampaign } from '../../workers/campaign.js';
import type { ExecuteContext } from '../../workers/execute.js';
import { repoRoot } from '../support/cli.js';
import { signingKey, tempHome } from './fixture.js';

const PLAN = join(repoRoot, 'docs', 'examples', 'train.yaml');

describe('workers/campaign', function () {
  this.timeout(120_000);
  let store: EventStore;
  let ctx: ExecuteContext;

  before(async () => {
    const home = tempHome();
    store = createSqliteStore({ path: join(home, 'ledger.db') });
    await store.init();
    const key = signingKey();
    ctx = { store, home, keys: { signer: asSigner(key) }, worker: 'test' };
  });

  after(async () => {
    await store.close();
  });

  it('derives run seeds from the base seed and position only', () => {
    assert.equal(campaignSeed(42, 1), campaignSeed(42, 1));
    assert.notEqual(campaignSeed(42, 1), campaignSeed(42, 2));
    assert.notEqual(campaignSeed(42, 1), campaignSeed(43, 1));
  });

  it('resumes a campaign interrupted before its second run and ends with the runs an uninterrupted campaign gives', async () => {
    const plan = readPlanFile(PLAN);
    const whole = await runCampaign(ctx, plan, { name: 'whole', repeats: 3 });
    await assert.rejects(
      runCampaign(ctx, plan, {
        name: 'cut',
        repeats: 3,
        onRunStarted: (runId) => {
          if (runId === 'cut-2') throw new Error('interrupted');
        },
      }),
      /interrupted/,
    );
    const resumed = await resumeCampaign(ctx, 'cut');
    assert.deepEqual(resumed.runs.map((r) => r.runId), ['cut-2', 'cut-3']);
    assert.deepEqual(
      resumed.runs.map((r) => r.finalCheckpoint),
      whole.runs.slice(1).map((r) => r.finalCheckpoint),
    );
    const types = (await store.readStream('campaign-cut')).map((e) => e.envelope.type);
    assert.deepEqual(types, ['CampaignStarted', 'CampaignRunCompleted', 'CampaignRunCompleted', 'CampaignRunCompleted', 'CampaignCompleted']);
    await assert.rejects(resumeCampaign(ctx, 'cut'), /already completed/);
  });
});
