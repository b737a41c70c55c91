/** The RouteBackend contract for `router: nginx`, with Debian's nginx (apt-get install nginx). */
import { describeRouteBackendContract } from '../../src/platforms/local/routing/backend-contract.test-helper.js';

describeRouteBackendContract('nginx');
