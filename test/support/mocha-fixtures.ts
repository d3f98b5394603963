// Services one mocha run shares (a Kafka broker, say): started once before the first test and
// stopped after the last. .mocharc.json requires this file, so mocha calls the global fixtures
// below; a support module registers its service when a spec file imports it, so a run without
// Kafka suites never starts a broker. Global fixtures run outside any test's timeout, which is
// what a first-time download of the broker's jars needs.

export interface SharedService {
  /** Starts the service (or finds out why it cannot: suites then skip with that reason). */
  start(): Promise<void>;
  /** Stops what start() started; never a service someone else runs. */
  stop(): Promise<void>;
}

const services = new Map<string, SharedService>();

export function sharedService(name: string, service: SharedService): void {
  services.set(name, service);
}

export async function mochaGlobalSetup(): Promise<void> {
  for (const service of services.values()) await service.start();
}

export async function mochaGlobalTeardown(): Promise<void> {
  for (const service of [...services.values()].reverse()) await service.stop();
}
