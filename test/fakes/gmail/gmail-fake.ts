// The Gmail connector's fake is the Google fake (test/fakes/google/google-fake.ts), which serves
// Google's OAuth endpoints, Gmail and Sheets on one port. This file exists for the naming
// convention the conformance suite loads fakes by (test/conformance/fake-contract.ts).
import { conformanceFakeFor } from '../google/google-fake.ts';

export { startGoogleFake as startGmailFake } from '../google/google-fake.ts';
export const startConformanceFake = conformanceFakeFor('gmail');
