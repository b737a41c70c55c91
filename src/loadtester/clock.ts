/** Time for the loadtester: the monotonic reading and the abortable sleep of the shared clock. */
import type { Clock as SharedClock } from '../shared/clock.js';

export { createSystemClock } from '../shared/clock.js';

export type Clock = Pick<SharedClock, 'monotonic' | 'sleep'>;
