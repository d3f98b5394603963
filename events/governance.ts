// governance events. Each definition is declared once here; types derive from the schemas.
import type { EventDefinition } from './registry.js';

export const governanceEvents: EventDefinition[] = [];
